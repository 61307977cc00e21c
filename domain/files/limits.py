"""The limits every file use case works within, set once by the composition root."""

from dataclasses import dataclass, fields

from domain.ports import MAX_WRITE_ITEMS


@dataclass(frozen=True, slots=True)
class FileLimits:
    """The files feature's bounds (sizes, quota, expiries, counts), from settings: checked
    by the domain, so every entry point refuses the same things."""

    max_upload_bytes: int
    quota_bytes: int  # per user, over PENDING and READY files
    pending_ttl_seconds: int  # how long an upload may stay unfinished
    upload_expiry_seconds: int  # how long an upload URL works
    download_expiry_default: int = 300
    download_expiry_max: int = 3600
    max_pending_uploads: int = 50  # per user; also bounds the size of the usage item
    max_shares_per_file: int = 50
    max_share_links_per_file: int = 20  # unexpired links; each is two items
    # Larger uploads go in parts; parts are this big (but the last), or larger when a
    # file would otherwise need more than S3's 10,000 parts.
    multipart_threshold_bytes: int = 64 * 1024 * 1024
    multipart_part_bytes: int = 16 * 1024 * 1024
    # Larger multipart uploads must carry part checksums: without them S3 keeps no SHA-256
    # of the object, and hashing it back through the function (about 50-100 MB/s) would
    # not fit the request deadline (REQUEST_TIMEOUT_SECONDS, 10 s; 30 s on API Gateway).
    multipart_inline_verify_max_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        # Misconfiguration, not user input: fail at start-up, loudly.
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field.name} must be a positive whole number")
        if self.upload_expiry_seconds > self.pending_ttl_seconds:
            raise ValueError("upload_expiry_seconds must not exceed pending_ttl_seconds")
        if self.download_expiry_default > self.download_expiry_max:
            raise ValueError("download_expiry_default must not exceed download_expiry_max")
        # Deleting (or completing) a file writes its meta, its reservation, its owner's
        # listing item, every share item and both items of every share link in one atomic
        # write (its usage is counted apart, by a lone ADD).
        if self.max_shares_per_file + 2 * self.max_share_links_per_file > MAX_WRITE_ITEMS - 3:
            raise ValueError(
                "max_shares_per_file + 2 * max_share_links_per_file must be at most "
                f"{MAX_WRITE_ITEMS - 3}"
            )
