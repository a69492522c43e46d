/**
 * First-boot script of the tuneserve host (Amazon Linux 2023): install Docker, log in to ECR when
 * the image lives there, fetch the API keys from SSM Parameter Store, and run the image read-only
 * with a restart policy; with a domain name, Caddy terminates TLS in front of it.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';

export interface ServerUserDataOptions {
  /** Image reference (tokens allowed: CloudFormation parameters). */
  imageUri: string;
  /** SSM parameter name holding comma-separated API keys. */
  apiKeysParameter: string;
  /** Port the server listens on inside the container. */
  containerPort: number;
  /** Host port published without TLS (ignored with a domain name). */
  hostPort?: string;
  /** With a domain name: Caddy on 443 with automatic certificates, the API not published directly. */
  domainName?: string;
}

/** Caddy release image used for TLS termination. */
export const CADDY_IMAGE = 'docker.io/library/caddy:2';

export function serverUserData(options: ServerUserDataOptions): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  const publish = options.domainName || !options.hostPort ? '' : `-p ${options.hostPort}:${options.containerPort} `;
  userData.addCommands(
    'set -euo pipefail',
    'exec > >(tee -a /var/log/tuneserve-setup.log) 2>&1',
    `IMAGE='${options.imageUri}'`,
    `KEYS_PARAMETER='${options.apiKeysParameter}'`,
    'dnf install -y docker',
    'systemctl enable --now docker',
    // IMDSv2 only: every metadata read needs a session token.
    'TOKEN=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    'REGION=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/region)',
    'if [[ $IMAGE =~ ^[0-9]+\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/ ]]; then',
    '  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$(printf %s "$IMAGE" | cut -d/ -f1)"',
    'fi',
    // Keys go to a root-only env file, never onto the command line or into the logs.
    'install -d -m 700 /etc/tuneserve',
    'if KEYS=$(aws ssm get-parameter --region "$REGION" --name "$KEYS_PARAMETER" --with-decryption --query Parameter.Value --output text 2>/dev/null); then',
    '  ( umask 077; printf "API_KEYS=%s\\n" "$KEYS" > /etc/tuneserve/server.env )',
    'else',
    '  echo "tuneserve: SSM parameter $KEYS_PARAMETER not found: the API is open to the allowed CIDR" >&2',
    '  ( umask 077; : > /etc/tuneserve/server.env )',
    'fi',
    'docker network inspect tuneserve >/dev/null 2>&1 || docker network create tuneserve',
    'docker pull "$IMAGE"',
    'docker rm -f tuneserve >/dev/null 2>&1 || true',
    `docker run -d --name tuneserve --restart unless-stopped --network tuneserve ${publish}--read-only --tmpfs /tmp --env-file /etc/tuneserve/server.env --log-opt max-size=10m --log-opt max-file=3 "$IMAGE"`,
  );
  if (options.domainName) {
    userData.addCommands(
      'docker rm -f caddy >/dev/null 2>&1 || true',
      `docker run -d --name caddy --restart unless-stopped --network tuneserve -p 443:443 -v caddy-data:/data -v caddy-config:/config ${CADDY_IMAGE} caddy reverse-proxy --from '${options.domainName}' --to tuneserve:${options.containerPort}`,
    );
  }
  return userData;
}
