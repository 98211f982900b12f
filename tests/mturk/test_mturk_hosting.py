"""Image hosting against moto's S3: content-hash keys, rewritten pages, bucket policy, presigned URLs."""

import json

import boto3
import pytest
from moto import mock_aws
from mturk_batch_factory import build_batch

from studykit.mturk.batch import load_batch
from studykit.mturk.hosting import POLICY_SID, AssetHosting, content_name, host_assets
from studykit.mturk.preflight import PreflightError, preflight


@pytest.fixture
def local_batch(tmp_path):
    """A batch whose pages still point at assets/ (relative URLs): not postable yet."""
    batch_dir = build_batch(tmp_path / "b", hosted=False)
    with pytest.raises(PreflightError, match="not HTTPS"):
        preflight(load_batch(batch_dir))
    return batch_dir


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="study-images")
        yield client


def test_upload_under_content_hash_keys_and_rewrite_pages(local_batch, s3):
    hosting = AssetHosting(bucket="study-images", prefix="studykit/sim/")
    report = host_assets(load_batch(local_batch), hosting, s3=s3)
    assets = sorted((local_batch / "assets").iterdir())
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="study-images")["Contents"])
    assert keys == sorted(f"studykit/sim/{content_name(p)}" for p in assets)
    assert (report.uploaded, report.already_hosted, report.pages_rewritten, report.warnings) == (3, 0, 3, [])
    assert s3.head_object(Bucket="study-images", Key=keys[0])["ContentType"] == "image/png"
    batch = load_batch(local_batch)
    preflight(batch)
    page = (local_batch / "hits" / "t00000.xml").read_text()
    first_image = local_batch / "assets" / batch.tasks[0].inputs["image_a"]
    assert f"https://study-images.s3.amazonaws.com/studykit/sim/{content_name(first_image)}" in page
    assert "assets/" not in page
    assert batch.manifest["asset_base_url"] == "https://study-images.s3.amazonaws.com/studykit/sim"
    again = host_assets(batch, hosting, s3=s3)
    assert (again.uploaded, again.already_hosted, again.pages_rewritten) == (0, 3, 0)


def test_public_read_policy_keeps_existing_statements(local_batch, s3):
    existing = {"Sid": "Mine", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::study-images/*"}
    s3.put_bucket_policy(Bucket="study-images", Policy=json.dumps({"Version": "2012-10-17", "Statement": [existing]}))
    hosting = AssetHosting(bucket="study-images", grant_public_read=True)
    host_assets(load_batch(local_batch), hosting, s3=s3)
    host_assets(load_batch(local_batch), hosting, s3=s3)
    statements = json.loads(s3.get_bucket_policy(Bucket="study-images")["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["Mine", POLICY_SID]
    assert statements[1]["Resource"] == "arn:aws:s3:::study-images/studykit/*"
    block = s3.get_public_access_block(Bucket="study-images")["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] and not block["BlockPublicPolicy"]


def test_presigned_urls_warn_when_they_expire_before_the_hits(local_batch, s3):
    report = host_assets(load_batch(local_batch), AssetHosting(bucket="study-images", presign_seconds=86_400), s3=s3)
    assert len(report.warnings) == 1 and "expire" in report.warnings[0]
    url = next(iter(report.urls.values()))
    assert url.startswith("https://study-images.s3.amazonaws.com/studykit/") and "Signature" in url
    preflight(load_batch(local_batch))
    assert load_batch(local_batch).manifest["asset_base_url"] is None


def test_self_hosted_base_url_needs_no_upload(local_batch):
    report = host_assets(load_batch(local_batch), AssetHosting(base_url="https://lab.example.edu/hits/"))
    assert report.uploaded == 0 and report.pages_rewritten == 3
    name = load_batch(local_batch).tasks[0].inputs["image_a"]
    assert f"https://lab.example.edu/hits/{name}" in (local_batch / "hits" / "t00000.xml").read_text()
    preflight(load_batch(local_batch))


@pytest.mark.parametrize("settings, message", [
    ({}, "base_url"), ({"base_url": "http://x.org"}, "https"),
    ({"bucket": "b", "presign_seconds": 700_000}, "604800"), ({"base_url": "https://x.org", "presign_seconds": 60},
                                                              "bucket"),
])
def test_hosting_settings_are_validated(settings, message):
    with pytest.raises(ValueError, match=message):
        AssetHosting(**settings)
