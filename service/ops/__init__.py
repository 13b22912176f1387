"""Running a service for real: live reload, worker processes, the blocked-loop watchdog."""
