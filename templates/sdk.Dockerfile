# The Beam SDK worker image for Flink (--environment_type=DOCKER, or EXTERNAL with this image run as a
# worker-pool sidecar: `docker run IMAGE --worker_pool`) and Dataflow (--sdk_container_image): Beam's own
# Python SDK container, same Python and Beam as the launcher, with this package installed so workers
# can import pipelines/ and transforms/.
#   docker build -f templates/sdk.Dockerfile -t REGISTRY/eventexport-beam-sdk:0.1.0 .
ARG PYTHON_VERSION=3.11
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}
COPY setup.py /eventexport/
COPY pipelines /eventexport/pipelines
COPY transforms /eventexport/transforms
COPY control /eventexport/control
RUN pip install --no-cache-dir /eventexport
