/**
 * First-boot script of the tuneserve host (Amazon Linux 2023): install Docker, log in to ECR when
 * the image lives there, fetch the API keys from SSM Parameter Store, and run the image read-only
 * with a restart policy; with a domain name, Caddy terminates TLS in front of it. Fails closed: when
 * the keys cannot be read, no server starts (unless AllowOpenApi=true) and the log says what to do.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';

export interface ServerUserDataOptions {
  /** Image reference (tokens allowed: CloudFormation parameters). */
  imageUri: string;
  /** SSM parameter name holding comma-separated API keys. */
  apiKeysParameter: string;
  /** 'true' starts the server without keys when the parameter cannot be read; anything else refuses. */
  allowOpenApi: string;
  /** Port the server listens on inside the container. */
  containerPort: number;
  /** Host port published without TLS (ignored with a domain name). */
  hostPort?: string;
  /** With a domain name: Caddy on 443 with automatic certificates, the API not published directly. */
  domainName?: string;
}

/** Caddy release image used for TLS termination. */
export const CADDY_IMAGE = 'docker.io/library/caddy:2';

/** Where the first boot leaves the start script, to run again once the keys parameter exists. */
export const START_SCRIPT = '/usr/local/sbin/tuneserve-start';

/** How to get HTTPS, for the log and the stack outputs. */
export const TLS_HOW_TO =
  "HTTP only, no TLS. For HTTPS, deploy again with -c domainName=api.example.com and point that name's DNS A record at the PublicIp output: Caddy then serves the API on 443 with a Let's Encrypt certificate.";

export function serverUserData(options: ServerUserDataOptions): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  const publish = options.domainName || !options.hostPort ? '' : `-p ${options.hostPort}:${options.containerPort} `;
  userData.addCommands(
    'set -euo pipefail',
    'exec > >(tee -a /var/log/tuneserve-setup.log) 2>&1',
    'dnf install -y docker',
    'systemctl enable --now docker',
    // The rest is a script of its own, so it can be run again by hand (see the refusal below).
    `cat > ${START_SCRIPT} <<'TUNESERVE_START'`,
    '#!/bin/bash',
    'set -euo pipefail',
    `IMAGE='${options.imageUri}'`,
    `KEYS_PARAMETER='${options.apiKeysParameter}'`,
    `ALLOW_OPEN_API='${options.allowOpenApi}'`,
    // IMDSv2 only: every metadata read needs a session token.
    'TOKEN=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    'REGION=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/region)',
    'if [[ $IMAGE =~ ^[0-9]+\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/ ]]; then',
    '  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$(printf %s "$IMAGE" | cut -d/ -f1)"',
    'fi',
    // Keys go to a root-only env file, never onto the command line or into the logs. A fresh
    // instance role can take a minute to work, so a failed read is retried before giving up.
    'install -d -m 700 /etc/tuneserve',
    'KEYS=""; ERROR=""',
    'for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do',
    '  if KEYS=$(aws ssm get-parameter --region "$REGION" --name "$KEYS_PARAMETER" --with-decryption --query Parameter.Value --output text 2>/etc/tuneserve/ssm-error); then',
    '    [[ -n $KEYS && $KEYS != None ]] && break',
    '    ERROR="the parameter is empty"; KEYS=""',
    '  else',
    '    ERROR=$(tr -s "\\n" " " </etc/tuneserve/ssm-error); KEYS=""',
    '  fi',
    '  [[ $attempt == 12 ]] || sleep 10',
    'done',
    'rm -f /etc/tuneserve/ssm-error',
    'if [[ -n $KEYS ]]; then',
    '  ( umask 077; printf "API_KEYS=%s\\n" "$KEYS" > /etc/tuneserve/server.env )',
    'elif [[ $ALLOW_OPEN_API == true ]]; then',
    '  echo "tuneserve: WARNING: no API keys ($KEYS_PARAMETER: $ERROR); AllowOpenApi=true, so the API is open to the allowed CIDR" >&2',
    '  ( umask 077; : > /etc/tuneserve/server.env )',
    'else',
    // Fail closed: no server is better than an open one nobody asked for.
    '  echo "tuneserve: cannot read the API keys from SSM parameter $KEYS_PARAMETER ($ERROR)." >&2',
    '  echo "tuneserve: not starting the server, so the API is not open to anyone. Create the parameter:" >&2',
    `  echo "  aws ssm put-parameter --region $REGION --name $KEYS_PARAMETER --type SecureString --value \\"\\$(openssl rand -hex 32)\\"" >&2`,
    `  echo "then start it from a shell on the instance (the SessionCommand output): sudo ${START_SCRIPT}" >&2`,
    '  echo "To serve without keys on purpose, deploy with --parameters AllowOpenApi=true." >&2',
    '  exit 1',
    'fi',
    // Behind Caddy the server's only peer is the proxy (its port is not published), so trusting one hop is safe
    // and lets rate limits and the failed-key lock-out see each client instead of Caddy's address.
    ...(options.domainName ? ['echo "TRUST_PROXY=1" >> /etc/tuneserve/server.env'] : []),
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
  } else {
    userData.addCommands(`echo "tuneserve: ${TLS_HOW_TO}"`);
  }
  userData.addCommands('TUNESERVE_START', `chmod 700 ${START_SCRIPT}`, START_SCRIPT);
  return userData;
}
