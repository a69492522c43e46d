/**
 * deploy/aws: synthesizes the CDK app offline (as `cdk synth` does, no AWS account) and asserts the
 * CloudFormation template: only the API port open to the CIDR parameter, no SSH, SSM access,
 * least-privilege role, IMDSv2 required, encrypted volume, user data running the image with a
 * restart policy, optional Caddy TLS, the URL output. The app's dependencies live in
 * deploy/aws/node_modules (npm ci --prefix deploy/aws); without them the suite skips loudly,
 * and fails under CI=true.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Template } from '../aws/lib/testing.ts';

const AWS_DIR = resolve(import.meta.dirname, '../aws');
const installed = existsSync(join(AWS_DIR, 'node_modules/aws-cdk-lib/package.json'));
if (!installed) {
  const message = 'deploy/aws dependencies are missing: run `npm ci --prefix deploy/aws`';
  if (process.env.CI === 'true') throw new Error(`CI requires them: ${message}`);
  process.stderr.write(`\n!!! SKIPPING the AWS CDK tests: ${message}\n\n`);
}

type Testing = typeof import('../aws/lib/testing.ts');
type Json = Record<string, unknown>;

describe.skipIf(!installed)('deploy/aws CDK app', () => {
  let cdk: Testing;
  let plain: Template;
  let withTls: Template;

  beforeAll(async () => {
    cdk = await import('../aws/lib/testing.ts');
    const synth = (props: ConstructorParameters<Testing['TuneserveStack']>[2]): Template => {
      const app = new cdk.App();
      return cdk.Template.fromStack(new cdk.TuneserveStack(app, 'Tuneserve', props));
    };
    plain = synth({ ecrRepositoryName: 'tuneserve' });
    withTls = synth({ domainName: 'api.example.com' });
  });

  const resources = (template: Template, type: string): Json[] =>
    Object.values(template.findResources(type)).map((r) => (r as Json).Properties as Json);

  /** The user data script with CloudFormation tokens replaced by sample values. */
  function userDataScript(template: Template, values: Record<string, string> = {}): string {
    const [instance = {}] = resources(template, 'AWS::EC2::Instance');
    const parts = ((instance.UserData as Json)['Fn::Base64'] as Json)['Fn::Join'] as [string, unknown[]];
    const sample: Record<string, string> = {
      ImageUri: 'registry.example.com/tuneserve:0.1.0',
      ApiPort: '5000',
      ApiKeysParameter: '/tuneserve/api-keys',
      AllowOpenApi: 'false',
      ...values,
    };
    return parts[1]
      .map((p) => (typeof p === 'string' ? p : (sample[(p as { Ref: string }).Ref] ?? `<${JSON.stringify(p)}>`)))
      .join(parts[0]);
  }

  it('parameters: instance type, AMI, CIDR (validated, no default), image, API port, keys parameter', () => {
    const parameters = plain.toJSON().Parameters as Record<string, Json>;
    expect(parameters.InstanceType?.Default).toBe('t3.small');
    expect(parameters.AmiParameter?.Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(parameters.AllowedCidr?.Default).toBeUndefined();
    const cidr = new RegExp(String(parameters.AllowedCidr?.AllowedPattern));
    expect(cidr.test('203.0.113.7/32')).toBe(true);
    expect(cidr.test('203.0.113.7')).toBe(false);
    expect(parameters.ImageUri?.Default).toBeUndefined();
    expect(parameters.ApiPort?.Default).toBe(5000);
    expect((withTls.toJSON().Parameters as Record<string, Json>).ApiPort).toBeUndefined();
    plain.hasResourceProperties('AWS::EC2::Instance', { InstanceType: { Ref: 'InstanceType' } });
    plain.hasResourceProperties('AWS::EC2::Instance', { ImageId: { Ref: 'AmiParameter' } });
  });

  it('the security group opens only the API port to the CIDR parameter: no SSH, HTTPS-only egress', () => {
    for (const [template, port] of [
      [plain, { Ref: 'ApiPort' }],
      [withTls, 443],
    ] as const) {
      const ingress = [
        ...resources(template, 'AWS::EC2::SecurityGroupIngress'),
        ...resources(template, 'AWS::EC2::SecurityGroup').flatMap((g) => (g.SecurityGroupIngress as Json[]) ?? []),
      ];
      expect(ingress).toHaveLength(1);
      expect(ingress[0]).toMatchObject({
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
        CidrIp: { Ref: 'AllowedCidr' },
      });
      for (const rule of ingress) expect([rule.FromPort, rule.ToPort]).not.toContain(22);
      const [group] = resources(template, 'AWS::EC2::SecurityGroup');
      expect(group?.SecurityGroupEgress).toEqual([
        expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);
    }
  });

  it('no key pair: access is through SSM Session Manager', () => {
    const [instance] = resources(plain, 'AWS::EC2::Instance');
    expect(instance?.KeyName).toBeUndefined();
    for (const lt of resources(plain, 'AWS::EC2::LaunchTemplate')) {
      expect((lt.LaunchTemplateData as Json).KeyName).toBeUndefined();
    }
    const [role] = resources(plain, 'AWS::IAM::Role');
    expect(JSON.stringify(role?.ManagedPolicyArns)).toContain('AmazonSSMManagedInstanceCore');
    expect(JSON.stringify(plain.toJSON().Outputs)).toContain('aws ssm start-session --target');
  });

  it('the instance role has least privilege: one SSM parameter, one ECR repository', () => {
    const [role] = resources(plain, 'AWS::IAM::Role');
    expect(role?.AssumeRolePolicyDocument).toMatchObject({
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } }],
    });
    expect(role?.ManagedPolicyArns).toHaveLength(1);
    const statements = resources(plain, 'AWS::IAM::Policy').flatMap(
      (p) => (p.PolicyDocument as { Statement: Json[] }).Statement,
    );
    const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.sort()).toEqual(
      [
        'ssm:GetParameter',
        'ecr:GetAuthorizationToken',
        'ecr:BatchGetImage',
        'ecr:GetDownloadUrlForLayer',
        'ecr:BatchCheckLayerAvailability',
      ].sort(),
    );
    for (const statement of statements) {
      expect(JSON.stringify(statement.Action)).not.toContain('*');
      // Only GetAuthorizationToken (which has no resource-level permissions) may use "*".
      if (statement.Resource === '*') expect(statement.Action).toBe('ecr:GetAuthorizationToken');
    }
    const ssm = statements.find((s) => s.Action === 'ssm:GetParameter');
    expect(JSON.stringify(ssm?.Resource)).toContain('{"Ref":"ApiKeysParameter"}');
    const ecr = statements.find((s) => JSON.stringify(s.Action).includes('BatchGetImage'));
    expect(JSON.stringify(ecr?.Resource)).toContain(':repository/tuneserve');
    // Without an ECR repository the role gets no ECR rights at all.
    const noEcr = resources(withTls, 'AWS::IAM::Policy').flatMap(
      (p) => (p.PolicyDocument as { Statement: Json[] }).Statement,
    );
    expect(JSON.stringify(noEcr)).not.toContain('ecr:');
  });

  it('IMDSv2 is required and the root volume is encrypted', () => {
    plain.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
    plain.hasResourceProperties('AWS::EC2::Instance', {
      BlockDeviceMappings: [
        cdk.Match.objectLike({ Ebs: cdk.Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) }),
      ],
    });
  });

  it('user data installs Docker and runs the image read-only with a restart policy', () => {
    const script = userDataScript(plain);
    expect(script).toContain('dnf install -y docker');
    expect(script).toContain('systemctl enable --now docker');
    expect(script).toMatch(
      /docker run -d --name tuneserve --restart unless-stopped .*-p 5000:8080 .*--read-only --tmpfs \/tmp/,
    );
    expect(script).toContain("IMAGE='registry.example.com/tuneserve:0.1.0'");
    expect(script).toContain('X-aws-ec2-metadata-token');
    expect(script).not.toContain('caddy');
    // The rendered script is valid bash.
    const dir = mkdtempSync(join(tmpdir(), 'tuneserve-userdata-'));
    try {
      writeFileSync(join(dir, 'user-data.sh'), script);
      expect(() => execFileSync('bash', ['-n', join(dir, 'user-data.sh')], { stdio: 'pipe' })).not.toThrow();
      writeFileSync(join(dir, 'tls.sh'), userDataScript(withTls));
      expect(() => execFileSync('bash', ['-n', join(dir, 'tls.sh')], { stdio: 'pipe' })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the user data, run for real by bash with the AWS and Docker commands stubbed', () => {
    // This machine cannot reach AWS: dnf, systemctl, curl (IMDS), aws and docker are small scripts
    // that log their arguments; `aws ssm get-parameter` answers as AWS_STUB says. Everything else
    // (bash, install, the retry loop, the env file) is real.
    const STUBS: Record<string, string> = {
      aws: `case "$AWS_STUB" in
  ok) echo 'key-one,key-two' ;;
  empty) echo '' ;;
  *) echo 'An error occurred (ParameterNotFound) when calling the GetParameter operation: Parameter /tuneserve/api-keys not found.' >&2; exit 254 ;;
esac`,
      curl: `case "$*" in *api/token*) echo token ;; *) echo eu-west-1 ;; esac`,
      docker: `[ "$1" = network ] && [ "$2" = inspect ] && exit 1; exit 0`,
      dnf: 'exit 0',
      systemctl: 'exit 0',
      sleep: 'exit 0',
    };

    function boot(
      awsStub: string,
      allowOpenApi: string,
    ): { code: number; output: string; calls: string[]; env: string } {
      const dir = mkdtempSync(join(tmpdir(), 'tuneserve-userdata-run-'));
      try {
        const bin = join(dir, 'bin');
        execFileSync('mkdir', ['-p', bin]);
        for (const [name, body] of Object.entries(STUBS)) {
          writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> "${dir}/calls"\n${body}\n`, {
            mode: 0o755,
          });
        }
        const script = userDataScript(plain, { AllowOpenApi: allowOpenApi })
          .replaceAll('/var/log/tuneserve-setup.log', join(dir, 'setup.log'))
          .replaceAll('/etc/tuneserve', join(dir, 'etc'))
          .replaceAll(cdk.START_SCRIPT, join(dir, 'tuneserve-start'));
        writeFileSync(join(dir, 'user-data.sh'), script);
        let code = 0;
        try {
          execFileSync('bash', [join(dir, 'user-data.sh')], {
            stdio: 'pipe',
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, AWS_STUB: awsStub },
          });
        } catch (e) {
          code = (e as { status: number }).status;
        }
        const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
        return {
          code,
          output: read('setup.log'),
          calls: read('calls').split('\n').filter(Boolean),
          env: read('etc/server.env'),
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    it('fails closed: no readable keys parameter, no server, and the log says how to fix it', () => {
      for (const stub of ['missing', 'empty']) {
        const run = boot(stub, 'false');
        expect(run.code, run.output).toBe(1);
        expect(run.calls.filter((c) => c.startsWith('docker run'))).toEqual([]);
        expect(run.calls.filter((c) => c.startsWith('aws ssm get-parameter'))).toHaveLength(12); // retried
        expect(run.output).toContain('cannot read the API keys from SSM parameter /tuneserve/api-keys');
        expect(run.output).toContain(stub === 'missing' ? 'ParameterNotFound' : 'the parameter is empty');
        expect(run.output).toContain('not starting the server');
        expect(run.output).toContain(
          'aws ssm put-parameter --region eu-west-1 --name /tuneserve/api-keys --type SecureString --value "$(openssl rand -hex 32)"',
        );
        expect(run.output).toMatch(/then start it from a shell on the instance .*: sudo \S+\/tuneserve-start/);
        expect(run.output).toContain('AllowOpenApi=true');
      }
    });

    it('with the keys: the server starts, the keys only in a root-only env file', () => {
      const run = boot('ok', 'false');
      expect(run.code, run.output).toBe(0);
      expect(run.env).toBe('API_KEYS=key-one,key-two\n');
      const [docker] = run.calls.filter((c) => c.startsWith('docker run'));
      expect(docker).toMatch(/--env-file \S+\/etc\/server\.env/);
      expect(run.calls.join('\n')).not.toContain('key-one');
      expect(run.output).not.toContain('key-one');
      // Without a domain the log says how to get TLS.
      expect(run.output).toContain(cdk.TLS_HOW_TO);
    });

    it('AllowOpenApi=true: starts without keys, with a warning', () => {
      const run = boot('missing', 'true');
      expect(run.code, run.output).toBe(0);
      expect(run.calls.filter((c) => c.startsWith('docker run'))).toHaveLength(1);
      expect(run.env).toBe('');
      expect(run.output).toMatch(/WARNING: no API keys .*AllowOpenApi=true, so the API is open/);
    });
  });

  it('without a domain, the Tls output and a synth warning say how to get HTTPS', () => {
    const outputs = (template: Template) => template.toJSON().Outputs as Record<string, Json>;
    expect(outputs(plain).Tls?.Value).toBe(cdk.TLS_HOW_TO);
    expect(cdk.TLS_HOW_TO).toContain('-c domainName=');
    expect(outputs(withTls).Tls).toBeUndefined();
    const parameters = plain.toJSON().Parameters as Record<string, Json>;
    expect(parameters.AllowOpenApi).toMatchObject({ Default: 'false', AllowedValues: ['false', 'true'] });
    const app = new cdk.App();
    const stack = new cdk.TuneserveStack(app, 'Warned', {});
    const warnings = app
      .synth()
      .getStackArtifact(stack.artifactId)
      .messages.filter((m) => m.level === 'warning');
    expect(warnings.map((w) => String(w.entry.data))).toContainEqual(expect.stringContaining('-c domainName='));
  });

  it('TLS: Caddy terminates HTTPS for the domain; the API port is not published directly', () => {
    const script = userDataScript(withTls);
    expect(script).toContain(
      `${cdk.CADDY_IMAGE} caddy reverse-proxy --from 'api.example.com' --to tuneserve:${cdk.CONTAINER_PORT}`,
    );
    expect(script).toContain('--restart unless-stopped --network tuneserve -p 443:443');
    expect(script).not.toMatch(/-p \d+:8080/);
    // Only Caddy reaches the server, so one proxy hop is trusted (limits see clients, not the proxy).
    expect(script).toContain('echo "TRUST_PROXY=1" >> /etc/tuneserve/server.env');
    expect(userDataScript(plain)).not.toContain('TRUST_PROXY');
    expect(() => new cdk.TuneserveStack(new cdk.App(), 'Bad', { domainName: "x'; rm -rf /" })).toThrow(
      /not a DNS name/,
    );
  });

  it('outputs the endpoint URL', () => {
    const url = (template: Template): string =>
      JSON.stringify((template.toJSON().Outputs as Record<string, Json>).Url?.Value);
    expect(url(plain)).toContain('http://');
    expect(url(plain)).toContain('{"Ref":"ApiPort"}');
    expect(url(plain)).toContain('PublicIp');
    expect(url(withTls)).toBe('"https://api.example.com"');
  });
});
