from setuptools import Extension, find_packages, setup

setup(
    name="eventexport",
    version="0.1.0",
    description="Bulk export of product-analytics events and profiles from an event store to S3",
    python_requires=">=3.10",
    packages=find_packages(include=["pipelines", "pipelines.*", "transforms", "transforms.*", "control",
                                    "control.*", "api", "api.*", "console", "console.*", "server",
                                    "server.*"]),
    package_data={"console": ["templates/*.html", "static/*.*", "static/fonts/*"],
                  "control": ["migrations/script.py.mako"]},   # migrations/ and versions/ are packages
    install_requires=[
        "apache-beam[aws]>=2.60",
        "pyarrow>=15",
        "numpy>=1.24",
        "fastavro>=1.9",
        "isal>=1.6",
        "orjson>=3.9",
        "boto3>=1.34",
        "sqlalchemy>=2.0",
        "cryptography>=42",
        "argon2-cffi>=23.1",
        "zxcvbn>=4.5",   # the password rule (control/passwords.py)
        "fastapi>=0.110",
        "uvicorn>=0.29",
        "jinja2>=3.1",
        "python-multipart>=0.0.9",
        "itsdangerous>=2.1",
        "alembic>=1.13",              # the control database's schema migrations
        "prometheus-client>=0.20",    # /metrics
        "python-json-logger>=3.1",    # EVENTEXPORT_LOG_FORMAT=json
        "platformdirs>=4",            # EVENTEXPORT_HOME's default, the user's data folder
    ],
    # XML's native kernel (transforms/formats/xml_text.py): built by pip install, a C compiler is all it needs.
    ext_modules=[Extension("transforms.formats._xml_text", ["transforms/formats/xml_native/module.c"],
                           depends=["transforms/formats/xml_native/arrays.h", "transforms/formats/xml_native/text.h",
                                    "transforms/formats/xml_native/numbers.h", "transforms/formats/xml_native/nested.h",
                                    "transforms/formats/xml_native/maps.h"],
                           extra_compile_args=["-O2"])],
    entry_points={"console_scripts": ["eventexport=control.cli:main"]},
    extras_require={
        # Beam's DaskRunner and the dask.distributed scheduler and workers it runs on (docs/cluster.md).
        "dask": [
            "apache-beam[dask]>=2.60",
            "dask>=2024.4.2",
            "distributed>=2024.4.2",
            "bokeh>=3.1",   # the scheduler's dashboard
        ],
        "dev": [
            "pytest>=8",
            "pytest-xdist>=3.5",   # make test runs two workers
            "moto[server]>=5.0",
            "duckdb>=1.0",
            "lxml>=5",
            "avro>=1.11",
            "matplotlib>=3.7",
            "psycopg[binary]>=3.1",
            "bandit>=1.7.7",
            "playwright>=1.40",
            "httpx>=0.27",
            "schemathesis>=4.0",
            "hypothesis>=6.100",   # property tests (tests/test_naming.py)
            "aiosmtpd>=1.4",       # a real SMTP server for the notification tests
        ],
    },
)
