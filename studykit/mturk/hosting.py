"""Hosting a batch's images over HTTPS and pointing its HIT pages at them.

MTurk shows HTMLQuestion pages over HTTPS, and the 65,535-byte Question limit rules out inline images,
so each image referenced as ``assets/<name>`` in ``hits/*.xml`` must be served from an HTTPS URL.
Three ways, chosen with :class:`AssetHosting`:

- **your own server or CDN** (``base_url`` only): copy ``assets/`` there yourself; pages get
  ``<base_url>/<name>``;
- **S3 with a public read path** (``bucket``, optionally ``base_url`` of a CloudFront distribution):
  files are uploaded under content-hash keys (an object name never reveals an answer, and re-uploads
  are skipped). Buckets created since April 2023 block public ACLs, so reads must be allowed by a bucket
  policy (``grant_public_read`` adds one for the prefix, keeping any existing statements) or by
  CloudFront;
- **S3 presigned URLs** (``bucket`` and ``presign_seconds``): no public access at all, but a URL
  stops working after at most 7 days — a warning is given when that comes before the HITs' lifetime
  plus assignment duration plus auto-approval delay.

Only ``hits/*.xml`` (what is posted) is rewritten; ``hits/*.html`` keep their relative URLs for the
local preview. ``manifest.json``'s ``asset_base_url`` records the base URL (None for presigned URLs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path

from studykit._io import write_text as atomic_write_text
from studykit.formats.batch import ASSETS_DIR, HITS_DIR, write_manifest

from .batch import Batch

__all__ = ["AssetHosting", "HostingReport", "content_name", "host_assets"]

log = logging.getLogger(__name__)

MAX_PRESIGN_SECONDS = 604_800  # SigV4's limit: 7 days
POLICY_SID = "StudykitPublicReadAssets"
_ASSET_REFERENCE = re.compile(r"""(?<=["'(=\s])(?:\./)?assets/([A-Za-z0-9._-]+)""")


def content_name(path: Path) -> str:
    """``<sha256[:16]><suffix>`` of the file's bytes: the object name it is hosted under."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] + path.suffix.lower()


@dataclass(frozen=True)
class AssetHosting:
    """Where a batch's images are served from (see the module docstring for the three ways).

    Parameters
    ----------
    base_url : str, optional
        HTTPS URL under which the images are served (your server, or CloudFront in front of ``bucket``).
    bucket : str, optional
        S3 bucket to upload to.
    prefix : str
        Key prefix in the bucket.
    presign_seconds : int, optional
        Serve through presigned URLs valid this long (at most 604,800 s, 7 days).
    grant_public_read : bool
        Add a bucket policy statement allowing anyone to read objects under ``prefix`` (and lift the
        bucket's Block Public Access settings that forbid public policies; ACLs stay blocked).

    Raises
    ------
    ValueError
        Naming the inconsistent or invalid setting.
    """

    base_url: str | None = None
    bucket: str | None = None
    prefix: str = "studykit/"
    presign_seconds: int | None = None
    grant_public_read: bool = False

    def __post_init__(self):
        if not self.base_url and not self.bucket:
            raise ValueError("give a base_url (self-hosted or CloudFront) or a bucket (S3)")
        if self.base_url and not self.base_url.lower().startswith("https://"):
            raise ValueError(f"base_url must be an https:// URL, got {self.base_url!r}")
        if self.presign_seconds is not None:
            if not self.bucket or self.base_url or self.grant_public_read:
                raise ValueError("presign_seconds needs a bucket, and excludes base_url and grant_public_read")
            if not 1 <= self.presign_seconds <= MAX_PRESIGN_SECONDS:
                raise ValueError(f"presign_seconds must be in [1, {MAX_PRESIGN_SECONDS}], got {self.presign_seconds}")
        if self.grant_public_read and not self.bucket:
            raise ValueError("grant_public_read needs a bucket")

    @property
    def public_base(self) -> str | None:
        """The base URL of the hosted files; None with presigned URLs."""
        if self.presign_seconds is not None:
            return None
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{self.bucket}.s3.amazonaws.com/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class HostingReport:
    """What :func:`host_assets` did: files ``uploaded`` (or ``already_hosted``), ``pages_rewritten``,
    each asset's ``urls``, and ``warnings`` for the researcher."""

    uploaded: int
    already_hosted: int
    pages_rewritten: int
    urls: dict
    warnings: list = field(default_factory=list)


def _object_exists(s3, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _upload(s3, hosting: AssetHosting, assets: list[Path]) -> tuple[dict, int]:
    """Upload under content-hash keys; returns ({asset name: key}, number uploaded)."""
    keys, uploaded = {}, 0
    for path in assets:
        key = hosting.prefix + content_name(path)
        keys[path.name] = key
        if not _object_exists(s3, hosting.bucket, key):
            s3.put_object(Bucket=hosting.bucket, Key=key, Body=path.read_bytes(),
                          ContentType=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                          CacheControl="public, max-age=31536000, immutable")
            uploaded += 1
    return keys, uploaded


def _grant_public_read(s3, bucket: str, prefix: str) -> None:
    """Add (once) a policy statement letting anyone GET objects under ``prefix``; keep other statements."""
    from botocore.exceptions import ClientError

    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statements = [s for s in policy.get("Statement", []) if s.get("Sid") != POLICY_SID]
    statements.append({"Sid": POLICY_SID, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": statements}))


def _urls(s3, hosting: AssetHosting, assets: list[Path]) -> tuple[dict, int]:
    """{asset name: URL}, and the number of files uploaded."""
    if not hosting.bucket:
        return {path.name: f"{hosting.public_base}/{path.name}" for path in assets}, 0
    keys, uploaded = _upload(s3, hosting, assets)
    if hosting.grant_public_read:
        _grant_public_read(s3, hosting.bucket, hosting.prefix)
    if hosting.presign_seconds is None:
        return {name: f"{hosting.public_base}/{key[len(hosting.prefix):]}" for name, key in keys.items()}, uploaded
    return {name: s3.generate_presigned_url("get_object", Params={"Bucket": hosting.bucket, "Key": key},
                                            ExpiresIn=hosting.presign_seconds) for name, key in keys.items()}, uploaded


def _rewrite_pages(batch: Batch, urls: dict) -> tuple[int, set]:
    """Point ``assets/<name>`` references in hits/*.xml at ``urls``; returns (pages changed, unknown names)."""
    changed, unknown = 0, set()

    def replace(match):
        name = match.group(1)
        if name not in urls:
            unknown.add(name)
            return match.group(0)
        return urls[name]

    for page in sorted((batch.directory / HITS_DIR).glob("*.xml")):
        text = page.read_text(encoding="utf-8")
        rewritten = _ASSET_REFERENCE.sub(replace, text)
        if rewritten != text:
            atomic_write_text(page, rewritten)
            changed += 1
    return changed, unknown


def _presign_warning(batch: Batch, hosting: AssetHosting) -> list[str]:
    needed = (batch.hit.lifetime_seconds + batch.hit.assignment_duration_seconds
              + batch.hit.auto_approval_delay_seconds)
    if hosting.presign_seconds is None or hosting.presign_seconds >= needed:
        return []
    return [f"presigned URLs expire after {hosting.presign_seconds:,} s, before the HITs' lifetime + assignment "
            f"duration + auto-approval delay ({needed:,} s): images will break for late workers and during "
            "review; prefer a bucket policy or CloudFront (base URL)"]


def host_assets(batch: Batch, hosting: AssetHosting, *, s3=None) -> HostingReport:
    """Serve the batch's ``assets/`` over HTTPS and rewrite ``hits/*.xml`` to use the hosted URLs.

    Parameters
    ----------
    batch : Batch
    hosting : AssetHosting
    s3 : botocore S3 client, optional
        Needed when ``hosting.bucket`` is set.

    Returns
    -------
    HostingReport

    Raises
    ------
    ValueError
        When a bucket is named without an S3 client.
    """
    if hosting.bucket and s3 is None:
        raise ValueError("hosting in S3 needs an S3 client")
    assets = sorted(p for p in (batch.directory / ASSETS_DIR).glob("*") if p.is_file())
    urls, uploaded = _urls(s3, hosting, assets)
    pages, unknown = _rewrite_pages(batch, urls)
    warnings = _presign_warning(batch, hosting)
    if unknown:
        warnings.append(f"pages reference {len(unknown)} file(s) missing from assets/, e.g. {sorted(unknown)[0]!r}")
    for warning in warnings:
        log.warning(warning)
    write_manifest(batch.directory, {**batch.manifest, "asset_base_url": hosting.public_base})
    return HostingReport(uploaded=uploaded, already_hosted=len(assets) - uploaded if hosting.bucket else 0,
                         pages_rewritten=pages, urls=urls, warnings=warnings)
