#!/usr/bin/env python3
"""Packs uncompressed layer tars into an OCI image layout and a docker-archive.

Used by bench/inventory.sh. Stdlib only. Each layer becomes one gzip blob
(deterministic: no name, mtime 0); the image config records the diff_ids
and one history entry per layer. The docker-archive is the classic
`docker save` format (manifest.json, <config>.json, <diff_id>/layer.tar).

Usage:
  build_image.py --oci DIR --tag TAG [--docker-archive FILE]
                 --layer TAR CREATED_BY [--layer TAR CREATED_BY ...]
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import tarfile

CHUNK = 1 << 20


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def write_blob(blobs, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest.split(":", 1)[1]), "wb") as handle:
        handle.write(data)
    return digest, len(data)


def gzip_layer(tar_path, blobs):
    """Gzips tar_path into the blob store; returns (digest, size)."""
    tmp = os.path.join(blobs, ".layer.tmp")
    with open(tar_path, "rb") as src, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
            shutil.copyfileobj(src, out, CHUNK)
    digest = sha256_file(tmp)
    os.replace(tmp, os.path.join(blobs, digest.split(":", 1)[1]))
    return digest, os.path.getsize(os.path.join(blobs, digest.split(":", 1)[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oci", required=True, help="OCI layout directory to create")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--docker-archive", help="also write a docker-archive tar here")
    parser.add_argument("--layer", nargs=2, action="append", required=True, metavar=("TAR", "CREATED_BY"))
    args = parser.parse_args()

    if os.path.exists(args.oci):
        shutil.rmtree(args.oci)
    blobs = os.path.join(args.oci, "blobs", "sha256")
    os.makedirs(blobs)

    layers, diff_ids, history = [], [], []
    for tar_path, created_by in args.layer:
        diff_ids.append(sha256_file(tar_path))
        digest, size = gzip_layer(tar_path, blobs)
        layers.append({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest,
            "size": size,
        })
        history.append({"created": "1970-01-01T00:00:00Z", "created_by": created_by})
        print(f"layer {digest} ({size} bytes) from {tar_path}", file=sys.stderr)

    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest, config_size = write_blob(blobs, config_bytes)

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": layers,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest, manifest_size = write_blob(blobs, manifest_bytes)

    with open(os.path.join(args.oci, "oci-layout"), "w") as handle:
        json.dump({"imageLayoutVersion": "1.0.0"}, handle)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": args.tag},
        }],
    }
    with open(os.path.join(args.oci, "index.json"), "w") as handle:
        json.dump(index, handle, indent=2)
    print(f"oci layout {args.oci}:{args.tag} manifest {manifest_digest}", file=sys.stderr)

    if args.docker_archive:
        write_docker_archive(args, config_bytes, config_digest, diff_ids)


def write_docker_archive(args, config_bytes, config_digest, diff_ids):
    import io

    def add_bytes(archive, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))

    config_name = config_digest.split(":", 1)[1] + ".json"
    layer_names = [d.split(":", 1)[1] + "/layer.tar" for d in diff_ids]
    manifest = [{
        "Config": config_name,
        "RepoTags": [f"airlock-bench/inventory:{args.tag}"],
        "Layers": layer_names,
    }]
    tmp = args.docker_archive + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as archive:
        add_bytes(archive, config_name, config_bytes)
        for (tar_path, _), name in zip(args.layer, layer_names):
            info = archive.gettarinfo(tar_path, arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with open(tar_path, "rb") as handle:
                archive.addfile(info, handle)
        add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
    os.replace(tmp, args.docker_archive)
    print(f"docker-archive {args.docker_archive}", file=sys.stderr)


if __name__ == "__main__":
    main()
