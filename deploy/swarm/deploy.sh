#!/usr/bin/env bash
# Deploy the example service to Docker Swarm, roll it, remove it (docs/scaling.md).
#
#   deploy/swarm/deploy.sh up      build both images, then deploy or roll the stack
#   deploy/swarm/deploy.sh down    remove the stack
#
# `up` again after changing the code or routes.yaml is a rolling update: each
# build is tagged with its image id and the routes config named by its content
# hash, so Swarm sees a new spec exactly when something changed.
# Environment: STACK (default service), LB_PORT (default 8080), ROUTES_FILE
# (default ./routes.yaml), APP_IMAGE / LB_IMAGE (an image to deploy instead of
# building one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export STACK=${STACK:-service}
stack=$STACK

# The image's tag: its own id, so a new build is a new spec (--resolve-image never
# compares tags only: these images are local, no registry knows their digests).
build() {  # build NAME CONTEXT -> prints NAME:ID
    docker build -q -t "$1" "$2" >/dev/null
    local id
    id=$(docker image inspect -f '{{.Id}}' "$1" | cut -d: -f2 | cut -c1-12)
    docker tag "$1" "$1:$id"
    echo "$1:$id"
}

case "${1:-}" in
up)
    export APP_IMAGE=${APP_IMAGE:-$(build service-example "$root")}
    export LB_IMAGE=${LB_IMAGE:-$(build service-lb "$here/lb")}
    export ROUTES_FILE
    ROUTES_FILE=$(realpath "${ROUTES_FILE:-$root/routes.yaml}")
    export ROUTES_HASH
    ROUTES_HASH=$(sha256sum "$ROUTES_FILE" | cut -c1-12)
    docker stack deploy --resolve-image never -c "$here/stack.yml" "$stack"
    echo "deployed $APP_IMAGE with ${stack}_routes-$ROUTES_HASH; watch: docker service ps ${stack}_app"
    ;;
down)
    docker stack rm "$stack"
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
