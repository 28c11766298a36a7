# http-lab in a container, for students on macOS or Windows (the lab is Linux-only) and for CI.
#
#   docker build -t http-lab .
#   docker run --rm -it --ulimit nofile=1048576:1048576 \
#       --sysctl net.core.somaxconn=65535 --sysctl net.ipv4.ip_local_port_range="1024 65535" \
#       http-lab
#
# then, inside, the README's two commands: `cargo run --release -- run --model epoll --conns
# 10000` and `cargo test --workspace` (or `.ci/run`, which is what CI runs). The README's
# "Linux only" section explains each setting; .devcontainer/ uses the `dev` stage.
FROM rust:1-bookworm AS dev
# The peers the tests drive (curl, ab, wrk), ip (the multi-host test's network namespaces), git.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       curl apache2-utils wrk iproute2 git \
    && rm -rf /var/lib/apt/lists/* \
    && rustup toolchain install stable --profile minimal --component rustfmt,clippy
# (rust-toolchain.toml asks for "stable"; the image's own toolchain is named by its version.)

FROM dev
WORKDIR /lab
COPY . .
RUN cargo build --release --locked
CMD ["bash"]
