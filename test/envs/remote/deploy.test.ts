import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseEndpoints } from '../../../src/envs/remote/pool.js';
import { trainConfigSchema } from '../../../src/rl/config.js';
import { ROOT } from '../../cli/helpers.js';

// Manifests are free-form; the tests read them field by field.
type Manifest = Record<string, any>;

/** Parses a multi-document YAML file (empty documents dropped). */
function parseYaml(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`could not parse ${file}: ${document.errors[0]!.message}`);
      return document.toJS() as Manifest | null;
    })
    .filter((manifest): manifest is Manifest => manifest !== null);
}

describe('deploy/k8s manifests', () => {
  const servers = parseYaml(join(ROOT, 'deploy/k8s/env-server.yaml'));
  const [job] = parseYaml(join(ROOT, 'deploy/k8s/trainer-job.yaml'));
  const deployment = servers.find((manifest) => manifest.kind === 'Deployment')!;
  const services = servers.filter((manifest) => manifest.kind === 'Service');
  const container = deployment.spec.template.spec.containers[0];

  it('runs env servers with /healthz probes, resources and the token from a Secret', () => {
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(container.args.slice(0, 3)).toEqual(['serve', '--host', '0.0.0.0']);
    const port = container.ports[0].containerPort;
    expect(container.args).toContain(String(port));
    for (const probe of [container.readinessProbe, container.livenessProbe])
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'ws' });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.env).toContainEqual({
      name: 'TURNGYM_TOKEN',
      valueFrom: { secretKeyRef: { name: 'turngym-token', key: 'token' } },
    });
  });

  it('has a headless Service (one address per pod) and a ClusterIP Service over the same pods', () => {
    expect(services.map((service) => service.metadata.name).sort()).toEqual(['turngym-env', 'turngym-env-pods']);
    for (const service of services) {
      expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
      expect(service.spec.ports[0].targetPort).toBe('ws');
    }
    expect(services.find((service) => service.metadata.name === 'turngym-env-pods')!.spec.clusterIP).toBe('None');
  });

  it('points the trainer Job at the headless Service, with valid training options', () => {
    expect(job.kind).toBe('Job');
    const trainer = job.spec.template.spec.containers[0];
    expect(trainer.image).toBe(container.image);
    expect(trainer.env).toContainEqual({
      name: 'TURNGYM_TOKEN',
      valueFrom: { secretKeyRef: { name: 'turngym-token', key: 'token' } },
    });
    const args: string[] = trainer.args;
    expect(args[0]).toBe('train');
    const remote = JSON.parse(args[args.indexOf('--remote') + 1]!) as string[];
    const headless = services.find((service) => service.spec.clusterIP === 'None')!;
    expect(remote).toEqual([`dns:${headless.metadata.name}:${headless.spec.ports[0].port}`]);
    expect(trainConfigSchema.safeParse({ env: args[args.indexOf('--env') + 1], remote }).success).toBe(true);
    expect(() => parseEndpoints(['turngym-env-pods:8765'])).not.toThrow();
  });
});

describe('deploy/Dockerfile', () => {
  const lines = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const instructions = lines.map((line) => line.split(/\s+/)[0]);

  it('uses only known instructions, builds with npm ci and npm run build, and runs serve on Debian with Chromium', () => {
    const known = new Set([
      'FROM',
      'RUN',
      'COPY',
      'WORKDIR',
      'ENV',
      'USER',
      'EXPOSE',
      'HEALTHCHECK',
      'STOPSIGNAL',
      'ENTRYPOINT',
      'CMD',
      'ARG',
    ]);
    expect(instructions.filter((instruction) => !known.has(instruction!))).toEqual([]);
    const froms = lines.filter((line) => line.startsWith('FROM '));
    expect(froms.every((line) => /bookworm/.test(line))).toBe(true);
    expect(lines.some((line) => line.startsWith('RUN npm ci'))).toBe(true);
    expect(lines.some((line) => /^RUN npm run build/.test(line))).toBe(true);
    const runtime = lines.slice(lines.lastIndexOf(froms[froms.length - 1]!));
    expect(runtime.some((line) => /apt-get install .*\bchromium-headless-shell\b/.test(line))).toBe(true);
    // Every COPY --from names a stage that exists.
    const stages = froms.map((line) => / AS (\S+)/.exec(line)?.[1]).filter(Boolean);
    for (const line of lines.filter((candidate) => candidate.includes('--from=')))
      expect(stages).toContain(/--from=(\S+)/.exec(line)![1]);
    // JSON-form ENTRYPOINT and CMD parse, and together run `serve --host 0.0.0.0` on the exposed port.
    const entrypoint = JSON.parse(
      lines.find((line) => line.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length),
    ) as string[];
    const command = JSON.parse(lines.find((line) => line.startsWith('CMD '))!.slice('CMD '.length)) as string[];
    expect([...entrypoint, ...command].join(' ')).toBe(
      'tini -- node --no-node-snapshot bin/turngym.js serve --host 0.0.0.0 --port 8765',
    );
    expect(lines).toContain('EXPOSE 8765');
  });
});
