"""boto3 against the S3 API of a running distributor.

Run by the Rust test `boto::boto3_checks`, which starts the stack and
passes the endpoint and an access key in S3_ENDPOINT, S3_KEY_ID and
S3_SECRET. Each check prints one line; the first failure ends the run with
a traceback and a non-zero status.
"""

import base64
import hashlib
import hmac
import os
import socket
import time
import urllib.error
import urllib.request
import zlib

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["S3_ENDPOINT"]
KEY_ID = os.environ["S3_KEY_ID"]
SECRET = os.environ["S3_SECRET"]
REGION = "us-east-1"
BUCKET = "boto"
# Every HTTP exchange of this script ends within this many seconds.
TIMEOUT = 30


def client(secret=SECRET, region=REGION, endpoint=ENDPOINT, addressing="path"):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=secret,
        region_name=region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            retries={"max_attempts": 1},
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
        ),
    )


def error_code(call):
    """The S3 error code `call` fails with; fails itself if it succeeds."""
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


def http(method, url, data=None, headers=None):
    """A plain HTTP exchange: (status, body)."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def check_put_get_list_delete(s3):
    s3.create_bucket(Bucket=BUCKET)
    data = bytes(range(256)) * 40
    put = s3.put_object(Bucket=BUCKET, Key="docs/a.bin", Body=data, ContentType="application/x-test")
    assert put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest(), put["ETag"]
    s3.put_object(Bucket=BUCKET, Key="docs/b.txt", Body=b"bee", Metadata={"colour": "blue"})
    s3.put_object(Bucket=BUCKET, Key="top.txt", Body=b"top")

    got = s3.get_object(Bucket=BUCKET, Key="docs/a.bin")
    assert got["Body"].read() == data
    assert got["ContentType"] == "application/x-test"
    ranged = s3.get_object(Bucket=BUCKET, Key="docs/a.bin", Range="bytes=10-19")
    assert ranged["Body"].read() == data[10:20]
    head = s3.head_object(Bucket=BUCKET, Key="docs/b.txt")
    assert head["Metadata"] == {"colour": "blue"}, head["Metadata"]

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="docs/")
    assert [item["Key"] for item in listed["Contents"]] == ["docs/a.bin", "docs/b.txt"]
    folded = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in folded["CommonPrefixes"]] == ["docs/"]
    assert [item["Key"] for item in folded["Contents"]] == ["top.txt"]

    s3.delete_object(Bucket=BUCKET, Key="top.txt")
    assert error_code(lambda: s3.get_object(Bucket=BUCKET, Key="top.txt")) == "NoSuchKey"
    print("ok put, get, ranged get, head, list, delete")


def check_checksums(s3):
    data = b"checked bytes " * 100
    s3.put_object(Bucket=BUCKET, Key="crc.bin", Body=data, ChecksumAlgorithm="CRC32")
    assert s3.get_object(Bucket=BUCKET, Key="crc.bin")["Body"].read() == data
    s3.put_object(Bucket=BUCKET, Key="crc.bin", Body=data, ChecksumAlgorithm="SHA1")
    s3.put_object(Bucket=BUCKET, Key="crc.bin", Body=data, ChecksumAlgorithm="SHA256")
    wrong = lambda: s3.put_object(Bucket=BUCKET, Key="crc.bin", Body=b"other", ChecksumCRC32="AAAAAA==")
    assert error_code(wrong) == "BadDigest"
    assert s3.get_object(Bucket=BUCKET, Key="crc.bin")["Body"].read() == data
    print("ok checksums in headers: CRC32, SHA1, SHA256 kept; a wrong one is BadDigest")


def trailer_put(key, data, crc):
    """A PutObject as SDKs send it over HTTPS: the body aws-chunked and
    unsigned, its CRC32 in a trailer after the last chunk."""
    body = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(data), data, crc.encode())
    request = AWSRequest(
        method="PUT",
        url="%s/%s/%s" % (ENDPOINT, BUCKET, key),
        data=body,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "Content-Length": str(len(body)),
        },
    )
    SigV4Auth(Credentials(KEY_ID, SECRET), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    return http("PUT", prepared.url, data=body, headers=dict(prepared.headers))


def check_trailers(s3):
    data = b"trailing " * 500
    status, body = trailer_put("trailer.bin", data, crc32_b64(data))
    assert status == 200, (status, body)
    got = s3.get_object(Bucket=BUCKET, Key="trailer.bin")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") in (None, ""), got.get("ContentEncoding")
    status, body = trailer_put("trailer.bin", b"not the same", crc32_b64(data))
    assert status == 400 and b"BadDigest" in body, (status, body)
    assert s3.get_object(Bucket=BUCKET, Key="trailer.bin")["Body"].read() == data
    print("ok unsigned payload with a CRC32 trailer; a wrong trailer is BadDigest")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def signed_trailer_put(key, data, crc, chunk_size=64 * 1024, signed_crc=None):
    """A PutObject with STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: every
    chunk signed, each signature chained to the one before, then the CRC32
    in a trailer with a signature of its own (over `signed_crc`, to forge
    one, else over `crc`)."""
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    trailer = "x-amz-checksum-crc32:%s" % crc
    # The encoded length is fixed by the sizes alone (every signature is 64
    # hex digits), so it can be signed before the chunk signatures exist.
    encoded_length = sum(len("%x;chunk-signature=" % len(c)) + 64 + 2 + len(c) + 2 for c in chunks)
    encoded_length += len(trailer) + 2 + len("x-amz-trailer-signature:") + 64 + 2 + 2
    request = AWSRequest(
        method="PUT",
        url="%s/%s/%s" % (ENDPOINT, BUCKET, key),
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "Content-Length": str(encoded_length),
        },
    )
    SigV4Auth(Credentials(KEY_ID, SECRET), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    amz_date = prepared.headers["X-Amz-Date"]
    scope = "%s/%s/s3/aws4_request" % (amz_date[:8], REGION)
    signing_key = ("AWS4" + SECRET).encode()
    for part in (amz_date[:8], REGION, "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    sign = lambda text: hmac.new(signing_key, text.encode(), hashlib.sha256).hexdigest()
    previous = prepared.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = b""
    for chunk in chunks:
        previous = sign("\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, sha256_hex(b""), sha256_hex(chunk)]))
        body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(chunk), previous.encode(), chunk)
    signed_trailer = "x-amz-checksum-crc32:%s\n" % (signed_crc or crc)
    trailer_signature = sign("\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, sha256_hex(signed_trailer.encode())]))
    body += b"%s\r\nx-amz-trailer-signature:%s\r\n\r\n" % (trailer.encode(), trailer_signature.encode())
    assert len(body) == encoded_length
    return http("PUT", prepared.url, data=body, headers=dict(prepared.headers))


def check_signed_trailers(s3):
    data = os.urandom(150_000)
    status, body = signed_trailer_put("signed-trailer.bin", data, crc32_b64(data))
    assert status == 200, (status, body)
    assert s3.get_object(Bucket=BUCKET, Key="signed-trailer.bin")["Body"].read() == data
    status, body = signed_trailer_put("signed-trailer.bin", os.urandom(1000), crc32_b64(data))
    assert status == 400 and b"BadDigest" in body, (status, body)
    other = os.urandom(1000)
    status, body = signed_trailer_put("signed-trailer.bin", other, crc32_b64(other), signed_crc=crc32_b64(data))
    assert status == 403 and b"SignatureDoesNotMatch" in body, (status, body)
    assert s3.get_object(Bucket=BUCKET, Key="signed-trailer.bin")["Body"].read() == data
    print("ok signed chunks with a signed CRC32 trailer; a wrong trailer is BadDigest, a forged one refused")


def check_presigned(s3):
    data = b"presigned bytes"
    s3.put_object(Bucket=BUCKET, Key="shared/p.txt", Body=data)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "shared/p.txt"}, ExpiresIn=300)
    assert http("GET", url) == (200, data)

    upload = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "shared/up.bin"}, ExpiresIn=300)
    sent = os.urandom(70_000)
    status, body = http("PUT", upload, data=sent)
    assert status == 200, (status, body)
    assert s3.get_object(Bucket=BUCKET, Key="shared/up.bin")["Body"].read() == sent

    expiring = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "shared/p.txt"}, ExpiresIn=1)
    time.sleep(2.5)
    status, body = http("GET", expiring)
    assert status == 403 and b"AccessDenied" in body, (status, body)
    print("ok presigned GET, presigned PUT by plain HTTP, expired link is AccessDenied")


def check_multipart(s3):
    mib = 1 << 20
    parts = [os.urandom(5 * mib), os.urandom(5 * mib), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="multi/three.bin", ContentType="application/x-three")
    upload_id = upload["UploadId"]
    etags = []
    # Out of order, as concurrent uploaders send them.
    for number in (2, 1, 3):
        sent = s3.upload_part(Bucket=BUCKET, Key="multi/three.bin", UploadId=upload_id, PartNumber=number, Body=parts[number - 1])
        etags.append((number, sent["ETag"]))
    etags.sort()
    assert [e for _, e in etags] == ['"%s"' % hashlib.md5(p).hexdigest() for p in parts]
    listed = s3.list_parts(Bucket=BUCKET, Key="multi/three.bin", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 5 * mib), (2, 5 * mib), (3, 1000)]
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [upload_id]

    complete = lambda chosen: s3.complete_multipart_upload(
        Bucket=BUCKET, Key="multi/three.bin", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in chosen]})
    assert error_code(lambda: complete([etags[1], etags[0]])) == "InvalidPartOrder"
    assert error_code(lambda: complete([(1, etags[1][1])])) == "InvalidPart"
    assert error_code(lambda: complete([etags[2], (4, etags[0][1])])) == "InvalidPart"
    assert error_code(lambda: complete([etags[2], etags[2]])) == "InvalidPartOrder"
    done = complete(etags)
    md5s = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert done["ETag"] == '"%s-3"' % md5s, done["ETag"]

    got = s3.get_object(Bucket=BUCKET, Key="multi/three.bin")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "application/x-three"
    edge = 5 * mib
    ranged = s3.get_object(Bucket=BUCKET, Key="multi/three.bin", Range="bytes=%d-%d" % (edge - 3, 2 * edge + 2))
    assert ranged["Body"].read() == b"".join(parts)[edge - 3 : 2 * edge + 3]
    assert error_code(lambda: s3.list_parts(Bucket=BUCKET, Key="multi/three.bin", UploadId=upload_id)) == "NoSuchUpload"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    # Parts copied from ranges of that object (one across its parts) and
    # from a whole other one.
    whole = b"".join(parts)
    copy = s3.create_multipart_upload(Bucket=BUCKET, Key="multi/copied.bin")["UploadId"]
    source = {"Bucket": BUCKET, "Key": "multi/three.bin"}
    ranges = [(0, 5 * mib - 1), (edge - 100, 2 * edge + 99)]
    copied = []
    for number, (first, last) in enumerate(ranges, start=1):
        done = s3.upload_part_copy(Bucket=BUCKET, Key="multi/copied.bin", UploadId=copy, PartNumber=number,
                                   CopySource=source, CopySourceRange="bytes=%d-%d" % (first, last))
        assert done["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(whole[first : last + 1]).hexdigest()
        copied.append({"PartNumber": number, "ETag": done["CopyPartResult"]["ETag"]})
    done = s3.upload_part_copy(Bucket=BUCKET, Key="multi/copied.bin", UploadId=copy, PartNumber=3,
                               CopySource={"Bucket": BUCKET, "Key": "docs/a.bin"})
    copied.append({"PartNumber": 3, "ETag": done["CopyPartResult"]["ETag"]})
    beyond = lambda: s3.upload_part_copy(Bucket=BUCKET, Key="multi/copied.bin", UploadId=copy, PartNumber=4,
                                         CopySource=source, CopySourceRange="bytes=0-%d" % len(whole))
    assert error_code(beyond) == "InvalidRange"
    s3.complete_multipart_upload(Bucket=BUCKET, Key="multi/copied.bin", UploadId=copy, MultipartUpload={"Parts": copied})
    expected = whole[: 5 * mib] + whole[edge - 100 : 2 * edge + 100] + bytes(range(256)) * 40
    assert s3.get_object(Bucket=BUCKET, Key="multi/copied.bin")["Body"].read() == expected

    small = s3.create_multipart_upload(Bucket=BUCKET, Key="multi/small.bin")["UploadId"]
    tags = [s3.upload_part(Bucket=BUCKET, Key="multi/small.bin", UploadId=small, PartNumber=n, Body=b"tiny")["ETag"] for n in (1, 2)]
    too_small = lambda: s3.complete_multipart_upload(
        Bucket=BUCKET, Key="multi/small.bin", UploadId=small,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t} for n, t in zip((1, 2), tags)]})
    assert error_code(too_small) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=BUCKET, Key="multi/small.bin", UploadId=small)
    assert error_code(lambda: s3.head_object(Bucket=BUCKET, Key="multi/small.bin")) == "404"

    # boto3's managed transfer splits a large body itself.
    from boto3.s3.transfer import TransferConfig
    import io
    managed = os.urandom(12 * mib)
    config = TransferConfig(multipart_threshold=5 * mib, multipart_chunksize=5 * mib)
    s3.upload_fileobj(io.BytesIO(managed), BUCKET, "multi/managed.bin", Config=config)
    back = io.BytesIO()
    s3.download_fileobj(BUCKET, "multi/managed.bin", back, Config=config)
    assert back.getvalue() == managed
    print("ok multipart: 3 parts, checks, ranges across parts, part copies, abort, managed transfer")


def check_wrong_secret():
    forger = client(secret="x" * 40)
    assert error_code(forger.list_buckets) == "SignatureDoesNotMatch"
    print("ok a wrong secret is SignatureDoesNotMatch")


def check_wrong_region():
    elsewhere = client(region="eu-west-1")
    assert error_code(elsewhere.list_buckets) == "AuthorizationHeaderMalformed"
    url = elsewhere.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "docs/a.bin"}, ExpiresIn=300)
    status, body = http("GET", url)
    assert status == 400 and b"AuthorizationQueryParametersError" in body, (status, body)
    print("ok a signature for another region is refused")


def resolve_localhost_subdomains():
    """Names under `localhost` are the loopback address (RFC 6761), as
    browsers and curl already treat them; the C resolver here does not."""
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def check_virtual_hosted_style():
    resolve_localhost_subdomains()
    port = ENDPOINT.rsplit(":", 1)[1]
    s3 = client(endpoint="http://localhost:%s" % port, addressing="virtual")
    sent_to = []
    s3.meta.events.register("before-send", lambda request, **_: sent_to.append(request.url))
    s3.create_bucket(Bucket="virtual")
    data = os.urandom(10_000)
    s3.put_object(Bucket="virtual", Key="dir/v.bin", Body=data)
    assert s3.get_object(Bucket="virtual", Key="dir/v.bin")["Body"].read() == data
    listed = s3.list_objects_v2(Bucket="virtual", Prefix="dir/")
    assert [item["Key"] for item in listed["Contents"]] == ["dir/v.bin"]
    assert sent_to and all(url.startswith("http://virtual.localhost:%s/" % port) for url in sent_to), sent_to

    # Unsigned reads find the bucket by the host name too.
    base = "http://virtual.localhost:%s" % port
    assert http("GET", base + "/dir/v.bin")[0] == 403
    s3.put_bucket_acl(Bucket="virtual", ACL="public-read")
    assert http("GET", base + "/dir/v.bin") == (200, data)
    # The same object path-style, on the same listener.
    assert http("GET", "http://localhost:%s/virtual/dir/v.bin" % port) == (200, data)
    s3.delete_object(Bucket="virtual", Key="dir/v.bin")
    s3.delete_bucket(Bucket="virtual")
    print("ok virtual-hosted-style requests, signed and unsigned")


def main():
    s3 = client()
    check_put_get_list_delete(s3)
    check_checksums(s3)
    check_trailers(s3)
    check_signed_trailers(s3)
    check_presigned(s3)
    check_multipart(s3)
    check_wrong_secret()
    check_wrong_region()
    check_virtual_hosted_style()


if __name__ == "__main__":
    main()
