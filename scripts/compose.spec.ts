import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { loadExperimentConfig, requireModelSection, modelBaseUrls } from '../libs/config/src';
import { DEFAULT_DATABASE_URL } from '../libs/event-store/src/database';
import { DEFAULT_NATS_URL } from '../libs/messaging/src/nats-config';

/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is read and held against the
 * code: the commands exist, the variables are ones the code reads, ports and credentials agree
 * with the defaults and the README, and the configs it names parse and point at its services.
 */

const ROOT = join(__dirname, '..');
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };

interface Service {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: unknown; resources?: { reservations?: { devices?: Array<{ driver: string; capabilities: string[] }> } } };
}

const services = compose.services;
const assayServices = Object.entries(services).filter(([, s]) => s.image?.startsWith('assay:'));

/** Every .ts source file of the repository's code (not tests), for the names it reads from the environment. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}
const code = ['libs', 'services', 'scripts'].flatMap((d) => sources(join(ROOT, d))).map((f) => readFileSync(f, 'utf8')).join('\n');

/** `node dist/x/y.js ...` → the source file x/y.ts that the build turns into it. */
function sourceOf(command: string[]): string {
  const script = command.find((part) => part.startsWith('dist/'));
  if (!script) throw new Error(`no dist/ script in ${JSON.stringify(command)}`);
  return join(ROOT, script.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
}

describe('docker-compose.yml: one image, several commands', () => {
  it('given the assay services, then they share one image, built by exactly one of them from this Dockerfile', () => {
    expect(assayServices.length).toBeGreaterThanOrEqual(6);
    expect(new Set(assayServices.map(([, s]) => s.image)).size).toBe(1);
    const builders = Object.entries(services).filter(([, s]) => s.build);
    expect(builders.map(([name]) => name)).toEqual(['planner']);
    expect(builders[0][1].build!.context).toBe('.');
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(builders[0][1].build!.args).toHaveProperty('CODE_VERSION');
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toContain('ARG CODE_VERSION');
  });

  it('given each service command, then it runs a file the build produces, the same one package.json starts', () => {
    for (const [name, s] of assayServices) {
      const command = [...(s.entrypoint ?? []), ...(s.command ?? [])];
      expect([name, command[0]]).toEqual([name, 'node']);
      expect([name, relative(ROOT, sourceOf(command)), existsSync(sourceOf(command))]).toEqual([name, relative(ROOT, sourceOf(command)), true]);
    }
    for (const service of ['planner', 'inference-worker', 'evaluator', 'reporter', 'simulator']) {
      const script = pkg.scripts[`start:${service}`];
      expect(script).toBe(`node ${services[service].command![1]}`);
    }
  });

  it('given the CLI services, then their commands are ones the CLI has', () => {
    const cli = readFileSync(join(ROOT, 'services/cli/src/main.ts'), 'utf8');
    expect(cli).toContain(".command('run");
    expect(services.demo.command!.slice(2, 3)).toEqual(['run']);
    expect(existsSync(join(ROOT, services.demo.command![3]))).toBe(true);
  });
});

describe('docker-compose.yml: environment', () => {
  it('given every variable set on an assay service, then the code reads it', () => {
    for (const [name, s] of assayServices) {
      for (const key of Object.keys(s.environment ?? {})) expect([name, key, code.includes(key)]).toEqual([name, key, true]);
    }
  });

  it('given every ${VARIABLE} the file interpolates, then it has a default and is listed in the header', () => {
    const header = composeText.split('\nname:')[0];
    const uses = [...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(:?-[^}]*)?\}/g)];
    expect(uses.length).toBeGreaterThan(5);
    for (const [, variable, fallback] of uses) {
      expect([variable, fallback !== undefined]).toEqual([variable, true]);
      expect([variable, header.includes(variable)]).toEqual([variable, true]);
    }
  });

  it('given Postgres, then its user, database and auth are those of the default DATABASE_URL and the README', () => {
    const url = new URL(DEFAULT_DATABASE_URL);
    const pg = services.postgres.environment!;
    expect(pg.POSTGRES_USER).toBe(decodeURIComponent(url.username));
    expect(pg.POSTGRES_DB).toBe(url.pathname.slice(1));
    expect(url.password).toBe('');
    expect(pg.POSTGRES_HOST_AUTH_METHOD).toBe('trust');
    expect(pg).not.toHaveProperty('POSTGRES_PASSWORD');
    expect(services.postgres.ports).toEqual([`127.0.0.1:\${ASSAY_PG_PORT:-${url.port}}:5432`]);
    expect(readme).toContain(DEFAULT_DATABASE_URL);
    for (const [name, s] of assayServices) {
      if (!s.environment?.DATABASE_URL) continue;
      const inCompose = new URL(s.environment.DATABASE_URL);
      expect([name, inCompose.hostname, inCompose.username, inCompose.password, inCompose.pathname]).toEqual([name, 'postgres', url.username, '', url.pathname]);
    }
  });

  it('given NATS, then a maintained image with JetStream, on the default port', () => {
    expect(services.nats.image).toMatch(/^nats:2\.(1[1-9]|[2-9]\d)/);
    expect(services.nats.command).toContain('-js');
    const port = new URL(DEFAULT_NATS_URL).port;
    expect(services.nats.ports).toEqual([`127.0.0.1:\${ASSAY_NATS_PORT:-${port}}:${port}`]);
    expect(services.planner.environment!.NATS_URL).toBe(`nats://nats:${port}`);
  });

  it('given the reporter, then its port is the one it listens on, bound beyond loopback only with the explicit opt-out, and the CLI finds it', () => {
    const r = services.reporter;
    expect(r.ports).toEqual([`127.0.0.1:\${ASSAY_REPORTER_PORT:-3000}:${r.environment!.ASSAY_HTTP_PORT}`]);
    expect(r.environment!.ASSAY_HTTP_HOST).toBe('0.0.0.0');
    expect(r.environment!.ASSAY_HTTP_ALLOW_OPEN).toBe('1');
    expect(services.cli.environment!.ASSAY_REPORTER_URL).toBe(`http://reporter:${r.environment!.ASSAY_HTTP_PORT}`);
    expect(readme).toContain('ASSAY_REPORTER_URL');
  });

  it('given several worker replicas, then no fixed worker id (each id carries its container host name)', () => {
    expect(services['inference-worker'].deploy?.replicas).toBeDefined();
    expect(services['inference-worker'].environment).not.toHaveProperty('ASSAY_WORKER_ID');
    expect(readFileSync(join(ROOT, 'libs/messaging/src/service.ts'), 'utf8')).toMatch(/ASSAY_WORKER_ID \|\| `\$\{opts\.service\}-\$\{hostname\(\)\}/);
  });
});

describe('docker-compose.yml: start order and health', () => {
  it('given every depends_on, then it names a condition, and service_healthy only where the service has a healthcheck', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect([name, dep, dep in services]).toEqual([name, dep, true]);
        expect(['service_healthy', 'service_started', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect([name, dep, services[dep].healthcheck !== undefined]).toEqual([name, dep, true]);
      }
    }
    for (const name of ['planner', 'inference-worker', 'evaluator', 'reporter']) expect(Object.keys(services[name].depends_on!)).toEqual(['postgres', 'nats']);
  });
});

describe('docker-compose.yml: the demo and the vllm profile', () => {
  it('given the demo, then its config parses and its model server is the simulator service, on the port it listens on', () => {
    const sim = services.simulator;
    const port = sim.command![sim.command!.indexOf('--port') + 1];
    const file = services.demo.command![3];
    const { config } = loadExperimentConfig(join(ROOT, file));
    expect(modelBaseUrls(requireModelSection(config).model)).toEqual([`http://simulator:${port}/v1`]);
    expect(config.model?.id).toBe(sim.command![sim.command!.indexOf('--model') + 1]);
    expect(services.demo.profiles).toEqual(['demo']);
    expect(sim.profiles).toContain('demo');
    expect(Object.keys(services.demo.depends_on!)).toEqual(expect.arrayContaining(['simulator', 'reporter', 'planner', 'inference-worker', 'evaluator']));
    for (const key of ['profiles', 'responses', 'items', 'split'] as const) expect(existsSync(config.data[key])).toBe(true);
  });

  it('given the vllm profile, then the official image, a GPU reservation, a model volume and the flags assay relies on', () => {
    const v = services.vllm;
    expect(v.image).toMatch(/^vllm\/vllm-openai:/);
    expect(v.profiles).toEqual(['vllm']);
    expect(v.command).toEqual(expect.arrayContaining(['--enable-prefix-caching', '--enable-prompt-tokens-details', '--max-num-seqs']));
    expect(v.command).not.toContain('--disable-log-stats'); // it would turn /metrics off
    expect(v.deploy!.resources!.reservations!.devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] })]);
    expect(v.volumes!.some((m) => m.endsWith(':/root/.cache/huggingface') && m.split(':')[0] in compose.volumes)).toBe(true);
    expect(v.healthcheck).toBeDefined();
    expect(readme).toContain('--enable-prompt-tokens-details');
    const { config } = loadExperimentConfig(join(ROOT, 'configs/experiments/compose-vllm.yaml'));
    expect(modelBaseUrls(requireModelSection(config).model)).toEqual(['http://vllm:8000/v1']);
    const model = v.command![v.command!.indexOf('--model') + 1];
    expect(model).toBe(`\${ASSAY_VLLM_MODEL:-${config.model?.id}}`);
  });
});

describe('Node line', () => {
  it('given the Dockerfile, package.json engines and the README, then they agree: the image runs the documented LTS, within engines', () => {
    const image = /ARG NODE_IMAGE=node:(\d+)-/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    expect(image).toBe('24');
    expect(readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim()).toBe(image);
    const floor = /^>=(\d+)\.\d+$/.exec(pkg.engines.node)?.[1];
    expect(Number(image)).toBeGreaterThanOrEqual(Number(floor));
    expect(readme).toContain(`The documented line and the image are Node ${image}`);
    expect(readme).toContain(`\`engines\` says \`${pkg.engines.node}\``);
  });
});
