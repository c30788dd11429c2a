"""Where attachment bytes live: a local folder (`LocalFolderBlobStore`, embedded mode) or an
S3-compatible bucket (`S3BlobStore`). The S3 one is imported from `.s3` by whoever needs it,
so that a process on the local folder never loads the S3 client."""

from gemini_clone.adapters.blobs.local import LocalFolderBlobStore
from gemini_clone.adapters.blobs.reading import Blob, BlobEntry

__all__ = ["Blob", "BlobEntry", "LocalFolderBlobStore"]
