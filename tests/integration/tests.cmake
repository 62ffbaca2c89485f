# Integration tests for Berth (Python 3, stdlib only + real clients).
# Include from the top-level CMakeLists.txt after the `berth` target exists:
#
#   enable_testing()
#   include(tests/integration/tests.cmake)
#
# Run:   ctest --output-on-failure -L integration
# Each file can also be run by hand from tests/integration/:
#   BERTH_BIN=build/berth python3 -m unittest -v test_v2_api.py

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  set(BERTH_IT_PYTHON "${Python3_EXECUTABLE}")
else()
  set(BERTH_IT_PYTHON python3)
endif()

set(BERTH_IT_DIR "${CMAKE_CURRENT_LIST_DIR}")

# HTTP-level OCI distribution / Docker Registry V2 conformance (~1 min).
add_test(NAME integration_v2_api
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_v2_api.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_v2_api PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# skopeo / podman / docker against a live server (~3-5 min on 2 cores).
# Runs alone: it starts dockerd and moves ~100 MB layers around.
add_test(NAME integration_clients
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_clients.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_clients PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 600
  RUN_SERIAL TRUE
  LABELS "integration")

# The command line: help, configuration precedence, start-up refusals, logs, signals, expiry.
add_test(NAME integration_cli
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_cli.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_cli PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# The Amazon ECR JSON API at the wire level: SigV4, error shapes, validation, unsupported
# operations, login tokens (expiry via libfaketime, forged, removed users), --auth none (~5 s).
add_test(NAME integration_ecr_protocol
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_ecr_protocol.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_ecr_protocol PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 180
  LABELS "integration")

# The ECR API through boto3: repositories, images, layer upload API <-> V2, immutability,
# creation templates and push-to-create (~15 s; 20 MiB layer parts).
add_test(NAME integration_ecr_boto3
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_ecr_boto3.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_ecr_boto3 PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# The real `aws` CLIs (v2 from Debian, v1 from pip) and `aws ecr get-login-password |
# docker login` + docker push/pull against a private dockerd (~2-3 min). Runs alone: dockerd.
add_test(NAME integration_ecr_awscli
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_ecr_awscli.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_ecr_awscli PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 600
  RUN_SERIAL TRUE
  LABELS "integration")

# IAM users, keys, groups and policies through the IAM/STS Query API (aws-cli v1 via AWS_ENDPOINT_URL,
# v2 via --endpoint-url, boto3), and what they allow through aws ecr, boto3, skopeo, docker and raw V2:
# pull-only / push-only / repository-policy users, _catalog filtering, mounts, create-on-push, immutable
# tags, denials that hide existence, unauthenticated requests, revoked keys and tokens, explicit denies,
# registry policies, condition keys, pull-time exclusions, a restart (~1-2 min). Runs alone: dockerd.
add_test(NAME integration_iam
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_iam.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_iam PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 600
  RUN_SERIAL TRUE
  LABELS "integration")

# The pull-through cache against real upstreams: the reference registry (docker-registry) open, with
# htpasswd (Basic) and with token auth (Bearer, a test-only ES256 token server), a second Berth (Basic
# pull credentials), a counting proxy and a lying upstream; rules and secrets through boto3, pulls with
# skopeo / podman / docker and raw V2: byte-for-byte pulls, imports, upstream outages, moved tags, one
# upstream fetch for two concurrent pulls of a 200 MB layer, digest mismatches, IAM (~2 min).
# Runs alone: it starts dockerd and moves ~200 MB layers around.
add_test(NAME integration_pull_through
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_pull_through.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_pull_through PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 900
  RUN_SERIAL TRUE
  LABELS "integration")

# ECR replication between Berth processes (a source and peer Berths with their own accounts and
# regions): Put/DescribeRegistry through boto3 and the aws CLI, its validation (10 rules, 25
# destinations, the source itself, unconfigured peers); skopeo, docker and PutImage pushes replicated
# byte for byte with their tags and repository settings (indexes with their children, shared layers,
# deletes not replicated), DescribeImageReplicationStatus; a peer stopped and started again, the source
# SIGKILLed mid-replication of a 100 MB layer (a throttling proxy), three processes, the peer's IAM
# (ecr:ReplicateImage, ACCESS_DENIED), TAG_IMMUTABLE (~3 min). Runs alone: it starts dockerd and
# moves a 100 MB layer around.
add_test(NAME integration_replication
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_replication.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_replication PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 900
  RUN_SERIAL TRUE
  LABELS "integration")

# The Secrets Manager JSON API subset (CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret,
# ListSecrets, DeleteSecret) through boto3, aws-cli v1/v2 and raw SigV4: staging labels, idempotent
# tokens, filters and pagination, recovery windows (libfaketime), IAM users and policies, values
# sealed at rest and kept over a restart, --auth none (~35 s).
add_test(NAME integration_secrets
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_secrets.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_secrets PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# The AWS SDK for JavaScript v3 (node --test js/ecr.test.mjs); `npm ci` first when
# js/node_modules is missing, which needs the npm registry (~10 s, plus npm ci).
add_test(NAME integration_ecr_js
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_ecr_js.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_ecr_js PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 900
  LABELS "integration")

# Lifecycle policies through the real `aws` CLI and `berth lifecycle run`: previews (exact
# digests and rule priorities, pages), runs, referrers, ARCHIVE storage class, validation,
# dry runs, the server's schedule (~60 s: push times are whole seconds).
add_test(NAME integration_lifecycle
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_lifecycle.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_lifecycle PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# Online garbage collection: 8 clients push/delete images sharing layers while `berth gc`
# and the server's own GC run (~35 s), then byte-for-byte pulls, fsck, blob files on disk;
# gc --dry-run / grace / --delete-untagged, fsck --repair, usage (~50 s in all).
add_test(NAME integration_gc
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_gc.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_gc PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# Crash safety: 16 clients push/pull/delete images sharing layers while the server is SIGKILLed
# 6-8 times and restarted; every acknowledged push pulls back byte for byte after each restart,
# no unacknowledged tag points at foreign bytes, fsck clean (~30 s). Full disk on a 64 MiB tmpfs
# (needs root for mount; skipped loudly otherwise). Runs alone: timing and CPU sensitive.
add_test(NAME integration_crash_safety
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_crash_safety.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_crash_safety PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  RUN_SERIAL TRUE
  LABELS "integration")

# Hostile input: a table of ~100 malformed or abusive requests (traversal, digests, Content-Length
# and chunked abuse, header floods, huge / deeply nested manifests, ranges, foreign upload ids,
# ECR JSON API) with exact status + code each, stalled bodies; no crash, still serving (~30 s).
add_test(NAME integration_hostile_input
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_hostile_input.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_hostile_input PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 180
  LABELS "integration")

# Resource limits: max connections (immediate 429), header timeout (slowloris), header bytes
# (431), upload sessions per repository (429 / ThrottlingException), JSON body bytes (413) (~10 s).
add_test(NAME integration_limits
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_limits.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_limits PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 180
  LABELS "integration")

# HTTPS: `berth cert generate`, TLS 1.2+ only (1.0/1.1 refused, plain HTTP gets no answer),
# blobs/ranges through TLS, SIGHUP certificate reloads, aws-cli v2/v1 with --ca-bundle, skopeo,
# and aws get-login-password | docker login + docker push/pull against a private dockerd (~20 s).
# Runs alone: it starts dockerd and writes /etc/docker/certs.d/127.0.0.1:PORT/ca.crt (removed after).
add_test(NAME integration_tls
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_tls.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_tls PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 600
  RUN_SERIAL TRUE
  LABELS "integration")

# Two servers on one PostgreSQL database: one generated root key, tokens valid on both, what one
# writes the other reads, an immutable tag pushed through both at once has one winner (~5 s).
add_test(NAME integration_postgres_shared_metadata
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_shared_metadata.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_postgres_shared_metadata PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration;postgres")

# The same suites with the metadata in PostgreSQL 15 (BERTH_TEST_METADATA=postgres: the test starts
# its own server, see postgres_engine.py; one database per data directory): the V2 API, the ECR API
# (wire level and boto3), online GC under load, kill -9 crash safety, lifecycle, hostile input,
# limits, the command line (~4 min in all). The suites that drive docker/skopeo/podman run on
# SQLite only for now (their paths above the metadata roles are the same). Hostile input, limits and
# the command line test the transport and the CLI more than the metadata roles, lifecycle's rules sit
# above them (the metadata suite covers its role on PostgreSQL), and GC under load on PostgreSQL runs
# again on the fleet (PostgreSQL + S3): they carry the label "full" (the whole run; CI runs
# `ctest -LE full`, see .ci/run).
foreach(suite v2_api ecr_protocol ecr_boto3 gc crash_safety lifecycle hostile_input limits cli)
  set(labels "integration;postgres")
  if(suite MATCHES "^(hostile_input|limits|cli|lifecycle|gc)$")
    list(APPEND labels full)
  endif()
  add_test(NAME integration_postgres_${suite}
           COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_${suite}.py
           WORKING_DIRECTORY ${BERTH_IT_DIR})
  set_tests_properties(integration_postgres_${suite} PROPERTIES
    ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;BERTH_TEST_METADATA=postgres;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
    TIMEOUT 600
    RUN_SERIAL TRUE
    LABELS "${labels}")
endforeach()

# A fleet: 3 `berth serve` processes on one PostgreSQL 15 and one Ceph RGW bucket, behind haproxy
# (round robin per request, no stickiness: consecutive requests of one upload hit different
# servers). test_fleet.py: an upload whose POST, PATCHes and PUT each go to another server, reads
# through every server, tokens valid everywhere, kill -9 of one server mid-push, a PostgreSQL
# restart and an RGW outage under traffic, fsck on PostgreSQL + S3 (~2 min).
add_test(NAME integration_fleet
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_fleet.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_fleet PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 900
  RUN_SERIAL TRUE
  LABELS "integration;fleet")

# The integration suites again, each server of the fixture being that 3-server fleet (fleet.py):
# the V2 API, ECR through boto3, online GC under load, kill -9 (all three servers, 2 kills: each
# verification round reads every blob back through RGW), lifecycle, and
# docker/skopeo/podman through the balancer; the clients once more with storage.s3.redirect on
# (blob GETs answered with 307 to RGW presigned URLs, which docker, skopeo and podman follow).
# Lifecycle and ECR/boto3 add little on a fleet over one PostgreSQL server (their rules sit above
# the metadata roles), nor the clients without redirects beside the run with them, nor kill -9 of
# the fleet beside kill -9 on one PostgreSQL server and test_fleet's kill of one server mid-push:
# label "full", not in CI's run.
foreach(suite v2_api ecr_boto3 gc crash_safety lifecycle clients)
  set(labels "integration;fleet")
  if(suite MATCHES "^(lifecycle|ecr_boto3|clients|crash_safety)$")
    list(APPEND labels full)
  endif()
  add_test(NAME integration_fleet_${suite}
           COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_${suite}.py
           WORKING_DIRECTORY ${BERTH_IT_DIR})
  set_tests_properties(integration_fleet_${suite} PROPERTIES
    ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;BERTH_TEST_METADATA=postgres;BERTH_TEST_STORAGE=s3;BERTH_TEST_FLEET=3;BERTH_CRASH_KILLS=2;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
    TIMEOUT 900
    RUN_SERIAL TRUE
    LABELS "${labels}")
endforeach()
add_test(NAME integration_fleet_clients_redirect
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_clients.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_fleet_clients_redirect PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;BERTH_TEST_METADATA=postgres;BERTH_TEST_STORAGE=s3;BERTH_TEST_FLEET=3;BERTH_TEST_S3_REDIRECT=1;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 900
  RUN_SERIAL TRUE
  LABELS "integration;fleet")

# Events: pushes and deletions (V2, BatchDeleteImage, a lifecycle run from the command line) as
# "ECR Image Action" webhooks, HMAC-signed, in order per repository, through a receiver that fails
# its first attempts and through kill -9 while it is down (~6 s; again on PostgreSQL, ~8 s).
foreach(metadata sqlite postgres)
  set(name integration_events)
  set(env "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1")
  set(labels "integration")
  if(metadata STREQUAL "postgres")
    set(name integration_postgres_events)
    set(env "${env};BERTH_TEST_METADATA=postgres")
    set(labels "integration;postgres")
  endif()
  add_test(NAME ${name}
           COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_events.py
           WORKING_DIRECTORY ${BERTH_IT_DIR})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}" TIMEOUT 300 LABELS "${labels}")
  if(metadata STREQUAL "postgres")
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()

# Backup and restore: berth backup while pushes (and GC with no grace) run, restore, fsck, and a
# server on the restored directory serving every image acknowledged before the backup began, byte
# for byte, and its IAM users; incremental backups; refusals (~6 s). SQLite only: with PostgreSQL
# the database is backed up with pg_dump.
add_test(NAME integration_backup
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_backup.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_backup PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# Running in production: /healthz, /readyz, /metrics (promtool-checked) on the main listener and a
# separate metrics listener, access and audit log lines (~15 s).
add_test(NAME integration_operations
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_operations.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_operations PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 300
  LABELS "integration")

# docker/Dockerfile built from debootstrapped Debian 12 bases (cached in /var/cache/berth-tests),
# run, health-checked, pushed to and pulled from; the compose files validated (~10 min, ~20 min the
# first time). Runs alone: dockerd and a full build inside it. Not in CI's selection ("full").
add_test(NAME integration_container_image
         COMMAND ${BERTH_IT_PYTHON} -m unittest -v test_container_image.py
         WORKING_DIRECTORY ${BERTH_IT_DIR})
set_tests_properties(integration_container_image PROPERTIES
  ENVIRONMENT "BERTH_BIN=$<TARGET_FILE:berth>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1"
  TIMEOUT 3600
  RUN_SERIAL TRUE
  LABELS "integration;full")
