/**
 * One EC2 instance running the tuneserve container: what the reference did by hand (PuTTY, SSH
 * keys, `sudo docker run -p 5000:5000`), as code and locked down:
 * - a security group that opens only the API port (or 443 with TLS) to one CIDR, and no SSH:
 *   shell access goes through SSM Session Manager;
 * - an instance role with SSM core access, plus pull access to one ECR repository and read access
 *   to one SSM parameter (the API keys) and nothing else;
 * - IMDSv2 required, an encrypted gp3 root volume, egress limited to HTTPS;
 * - user data that installs Docker and runs the image read-only with a restart policy, and
 *   optionally Caddy in front of it for automatic TLS on a domain name (without one, the `Tls`
 *   output and a synth warning say how to get it);
 * - fail closed: when the API-keys parameter cannot be read, the server does not start unless
 *   AllowOpenApi=true says an open API is wanted.
 */
import { Annotations, CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { serverUserData, TLS_HOW_TO } from './user-data.ts';

export interface TuneserveStackProps extends StackProps {
  /** Serve HTTPS on this domain through Caddy (its DNS A record must point at the stack's IP). */
  readonly domainName?: string;
  /** Name of an ECR repository in this account and region to grant pull access to. */
  readonly ecrRepositoryName?: string;
}

/** The port the server listens on inside the container (the image's EXPOSE). */
export const CONTAINER_PORT = 8080;

export class TuneserveStack extends Stack {
  constructor(scope: Construct, id: string, props: TuneserveStackProps = {}) {
    super(scope, id, props);
    const tls = props.domainName !== undefined && props.domainName !== '';
    if (tls && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(props.domainName ?? '')) {
      throw new Error(`domainName "${props.domainName}" is not a DNS name such as api.example.com`);
    }

    const imageUri = new CfnParameter(this, 'ImageUri', {
      type: 'String',
      description: 'Container image to run, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/tuneserve:0.1.0',
      minLength: 1,
    });
    const allowedCidr = new CfnParameter(this, 'AllowedCidr', {
      type: 'String',
      description: 'IPv4 CIDR allowed to reach the API, e.g. 203.0.113.7/32 (use 0.0.0.0/0 only with API keys set)',
      allowedPattern: '^(\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$',
      constraintDescription: 'an IPv4 CIDR such as 203.0.113.7/32',
    });
    // Without TLS the API's own port is public; with TLS only Caddy's 443 is (no ApiPort then).
    const apiPort = tls
      ? undefined
      : new CfnParameter(this, 'ApiPort', {
          type: 'Number',
          description: 'Public port of the API (5000 answers the reference client unchanged)',
          default: 5000,
          minValue: 1,
          maxValue: 65535,
        });
    const instanceType = new CfnParameter(this, 'InstanceType', {
      type: 'String',
      description: 'EC2 instance type (x86_64)',
      default: 't3.small',
    });
    const amiParameter = new CfnParameter(this, 'AmiParameter', {
      type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
      description: 'SSM parameter holding the AMI id (Amazon Linux 2023: the user data uses dnf)',
      default: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
    });
    const apiKeysParameter = new CfnParameter(this, 'ApiKeysParameter', {
      type: 'String',
      description:
        'SSM parameter (SecureString) with the comma-separated API keys; missing or unreadable = the server does not start (see AllowOpenApi)',
      default: '/tuneserve/api-keys',
      allowedPattern: '^/[A-Za-z0-9_./-]+$',
    });
    // Deny by default: only an explicit `true` lets the server start without keys.
    const allowOpenApi = new CfnParameter(this, 'AllowOpenApi', {
      type: 'String',
      description:
        'true = start the server without API keys when ApiKeysParameter cannot be read (open to AllowedCidr)',
      default: 'false',
      allowedValues: ['false', 'true'],
    });

    // A small public VPC of its own: no NAT gateway to pay for, nothing else shares it.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });

    const securityGroup = new ec2.SecurityGroup(this, 'ApiSecurityGroup', {
      vpc,
      description: tls
        ? 'tuneserve: HTTPS from the allowed CIDR only'
        : 'tuneserve: the API port from the allowed CIDR only',
      allowAllOutbound: false,
    });
    const publicPort = ec2.Port.tcp(apiPort ? apiPort.valueAsNumber : 443);
    securityGroup.addIngressRule(ec2.Peer.ipv4(allowedCidr.valueAsString), publicPort, 'tuneserve API');
    // Out: HTTPS only (dnf repositories, the image registry, SSM, ACME). DNS and the instance
    // metadata service are link-local and not filtered by security groups.
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS out');

    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'tuneserve host: SSM Session Manager, one ECR repository, one SSM parameter',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameter'],
        // The parameter name starts with '/', so it follows "parameter" directly in the ARN.
        resources: [
          `arn:${this.partition}:ssm:${this.region}:${this.account}:parameter${apiKeysParameter.valueAsString}`,
        ],
      }),
    );
    if (props.ecrRepositoryName) {
      role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [
            Stack.of(this).formatArn({ service: 'ecr', resource: 'repository', resourceName: props.ecrRepositoryName }),
          ],
        }),
      );
    }

    const instance = new ec2.Instance(this, 'Server', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: new ec2.InstanceType(instanceType.valueAsString),
      machineImage: imageFromParameter(amiParameter.valueAsString),
      securityGroup,
      role,
      requireImdsv2: true,
      associatePublicIpAddress: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
      userData: serverUserData({
        imageUri: imageUri.valueAsString,
        apiKeysParameter: apiKeysParameter.valueAsString,
        allowOpenApi: allowOpenApi.valueAsString,
        containerPort: CONTAINER_PORT,
        hostPort: apiPort?.valueAsString,
        domainName: tls ? props.domainName : undefined,
      }),
      userDataCausesReplacement: true,
    });

    // A fixed address: the URL (and a DNS record for TLS) survives instance replacement.
    const address = new ec2.CfnEIP(this, 'Address', { domain: 'vpc', instanceId: instance.instanceId });

    new CfnOutput(this, 'Url', {
      description: 'The API endpoint',
      value: apiPort ? `http://${address.attrPublicIp}:${apiPort.valueAsString}` : `https://${props.domainName}`,
    });
    new CfnOutput(this, 'PublicIp', {
      description: 'Point the domain A record here (TLS)',
      value: address.attrPublicIp,
    });
    if (!tls) {
      new CfnOutput(this, 'Tls', { description: 'How to get HTTPS', value: TLS_HOW_TO });
      Annotations.of(this).addWarning(TLS_HOW_TO);
    }
    new CfnOutput(this, 'SessionCommand', {
      description: 'A shell on the instance, without SSH',
      value: `aws ssm start-session --target ${instance.instanceId} --region ${this.region}`,
    });
  }
}

/** An AMI whose id is resolved at deploy time (here from the AmiParameter SSM parameter). */
function imageFromParameter(imageId: string): ec2.IMachineImage {
  return {
    getImage: () => ({ imageId, osType: ec2.OperatingSystemType.LINUX, userData: ec2.UserData.forLinux() }),
  };
}
