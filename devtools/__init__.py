"""Development tools, not the product: demos, the local S3 and Dask helpers, the store generator.

`setup.py` does not install this package (`local_s3` needs moto, a test dependency); the Makefile's
`demo`, `demo-cluster` and `console` targets run its modules from the checkout.
"""
