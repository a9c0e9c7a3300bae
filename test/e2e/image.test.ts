import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { formatProblem } from '../../src/domain/index.js';

/**
 * The Dockerfile cannot be built here (no container runtime), so what the image's
 * configuration rests on is checked: it sets no setting's variable (one would override
 * the same key of a mounted rectify.yaml), and rectify's defaults, resolved against its
 * working directory laid out as the image lays /app out, are the bundled runbooks and a
 * database on the /data volume, which a config file there replaces without a word.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** The final stage's instructions, continuation lines joined. */
const finalStage = dockerfile.split(/^FROM /m).at(-1)!.replace(/\\\n/g, ' ');

const root = mkdtempSync(join(tmpdir(), 'rectify-image-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('the container image', () => {
  it('sets no RECTIFY_* variable: the environment would win over a mounted rectify.yaml', () => {
    const env = finalStage.split('\n').filter((l) => /^ENV\s/.test(l));
    assert.ok(env.length > 0, 'the ENV line (NODE_OPTIONS) is there');
    for (const line of env) assert.doesNotMatch(line, /RECTIFY_/, line);
  });

  it('runs from /app, with ./data a link to the /data volume', () => {
    assert.match(finalStage, /^WORKDIR \/app$/m);
    assert.match(finalStage, /ln -s \/data \/app\/data/);
    assert.match(finalStage, /COPY runbooks \.\/runbooks/);
  });

  it('laid out as /app is, the defaults are the bundled runbooks and the volume; a rectify.yaml there decides both, with no warning', () => {
    const app = join(root, 'app');
    const volume = join(root, 'data');
    mkdirSync(join(app, 'runbooks'), { recursive: true });
    mkdirSync(volume);
    symlinkSync(volume, join(app, 'data'));
    const plain = loadConfig(['serve'], {}, { cwd: app });
    assert.ok('config' in plain);
    assert.deepEqual([plain.config.db, plain.config.runbooks, plain.config.warnings], [{ kind: 'sqlite', path: join(app, 'data/rectify.db') }, join(app, 'runbooks'), []]);
    assert.equal(realpathSync(join(app, 'data')), realpathSync(volume), 'the database is on the volume');

    // The operator's file, mounted at /app/rectify.yaml: its keys are in force.
    writeFileSync(join(app, 'rectify.yaml'), 'db: sqlite:/srv/rectify.db\nrunbooks: /etc/rectify/runbooks\n');
    const mounted = loadConfig(['serve'], {}, { cwd: app });
    assert.ok('config' in mounted);
    assert.deepEqual([mounted.config.db, mounted.config.runbooks, mounted.config.warnings], [{ kind: 'sqlite', path: '/srv/rectify.db' }, '/etc/rectify/runbooks', []]);
    assert.deepEqual(mounted.config.sources.db, { kind: 'file', file: 'rectify.yaml', path: 'db', line: 1 });

    // What the image's ENV did: overrode the file, now with a warning for each key.
    const env = loadConfig(['serve'], { RECTIFY_DB: 'sqlite:/data/rectify.db', RECTIFY_RUNBOOKS: '/app/runbooks' }, { cwd: app });
    assert.ok('config' in env);
    assert.deepEqual(env.config.warnings.map(formatProblem), [
      "rectify.yaml:1: db: overridden by RECTIFY_DB, which sets another value: the file's value is not in force",
      "rectify.yaml:2: runbooks: overridden by RECTIFY_RUNBOOKS, which sets another value: the file's value is not in force",
    ]);
  });
});
