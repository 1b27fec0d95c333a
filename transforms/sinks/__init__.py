"""Stage 4, where objects go: sized shards, their names, the single PutObject of each, and the manifest.

- `sharding`: a partition's rows cut into files of at most `max_file_bytes` as stored.
- `naming`: object, manifest and rejects keys (pure functions).
- `target`: the write target (a local folder or an S3 prefix) and its one operation, write a final key once.
- `s3`: the customer's bucket, reached with the customer's least-privilege key.
- `preflight`: what a list-and-put key can learn about a bucket (connection test, the listing).
- `manifest`: the run's manifest, built from what the writers reported.
- `verification`: a finished run checked against its manifest by listing alone.

Imports only the shared base, never an earlier stage.
"""

__all__ = ["sharding", "naming", "target", "s3", "preflight", "manifest", "verification"]
