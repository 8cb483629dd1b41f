# The votewire image: one command line (`votewire VERB`), used by every service in
# docker-compose.yml (topics setup, worker, gateway).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first, so a code change does not reinstall them. orjson ships
# manylinux wheels: nothing to compile, no build tools in the image.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY streams ./streams
RUN pip install --no-deps . && rm -rf /src/build

# A fixed non-root user; /data is VOTEWIRE_DATA_DIR (faust's worker directory; the tallies
# themselves are rebuilt from Kafka).
RUN useradd --create-home --uid 10001 votewire && mkdir /data && chown votewire /data
USER votewire
WORKDIR /home/votewire
ENV VOTEWIRE_DATA_DIR=/data
VOLUME ["/data"]

ENTRYPOINT ["votewire"]
CMD ["--help"]
