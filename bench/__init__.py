"""The side-by-side benchmark: this project vs aiohttp vs a bare httptools floor."""
