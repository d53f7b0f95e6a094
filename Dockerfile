# The dualtrack broker image (docs/deployment.md).
#   docker build -t dualtrack .                                  # python:3.12-slim-bookworm base
#   docker build --build-arg SLURM_CLIENT=true -t dualtrack:slurm .   # + Slurm client tools, ssh, munge
# BASE must be Debian-based with python3 (>= 3.11) and its venv module. CI builds it offline from a Debian
# rootfs (scripts/image/build.sh). Runs as uid 10001 and works with a read-only root filesystem: state goes to
# /var/lib/dualtrack (mount a volume), the configuration is read from /etc/dualtrack/config.yaml.
ARG BASE=docker.io/library/python:3.12-slim-bookworm

FROM ${BASE} AS build
COPY . /src
# the postgres extra: the HA store (psycopg 3 with its bundled libpq)
RUN python3 -m venv /opt/dualtrack \
 && /opt/dualtrack/bin/pip install --no-cache-dir --disable-pip-version-check "/src[postgres]" \
 && /opt/dualtrack/bin/dualtrack --help >/dev/null

FROM ${BASE}
ARG SLURM_CLIENT=false
# the CLI and SSH transports of the Slurm adapter need sbatch/squeue/scontrol (and munge) or ssh in the image
RUN if [ "$SLURM_CLIENT" = "true" ]; then \
      apt-get update && apt-get install -y --no-install-recommends slurm-client munge openssh-client \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && echo "dualtrack:x:10001:10001:dualtrack broker:/var/lib/dualtrack:/usr/sbin/nologin" >>/etc/passwd \
 && echo "dualtrack:x:10001:" >>/etc/group \
 && mkdir -p /etc/dualtrack /var/lib/dualtrack \
 && chown 10001:10001 /var/lib/dualtrack
COPY --from=build /opt/dualtrack /opt/dualtrack
ENV PATH=/opt/dualtrack/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/dualtrack \
    DUALTRACK_DATA_DIR=/var/lib/dualtrack
USER 10001:10001
WORKDIR /var/lib/dualtrack
EXPOSE 50051 9464
VOLUME ["/var/lib/dualtrack"]
ENTRYPOINT ["/opt/dualtrack/bin/dualtrack"]
CMD ["serve", "--config", "/etc/dualtrack/config.yaml"]
