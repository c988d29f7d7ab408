import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError, METADATA_KEY } from 'multizone-distribution/internal';
import { SynthesizedSite } from '../synthesized-site';
import { CliError, CliIO } from './io';

/** Options naming the template a command reads. */
export interface TemplateOptions {
  /** A synthesized template file. */
  readonly template?: string;
  /** Run `cdk synth` first. */
  readonly synth?: boolean;
  /** The cloud assembly directory searched when no template is named. */
  readonly output?: string;
}

/** A site read from a template file. */
export interface LoadedSite {
  readonly site: SynthesizedSite;
  /** The template file, relative to the working directory when inside it. */
  readonly file: string;
}

/** The cloud assembly directory `cdk synth` writes by default. */
export const DEFAULT_ASSEMBLY_DIR = 'cdk.out';

/** Whether a parsed template holds a MultiZoneDistribution. */
export function hasMultiZoneDistribution(template: any): boolean {
  return Object.values<any>(template?.Resources ?? {}).some((r) => r?.Type === 'AWS::CloudFront::Distribution' && r?.Metadata?.[METADATA_KEY]);
}

/** Templates (`*.template.json`, nested stage assemblies included) of an assembly directory that hold a MultiZoneDistribution. */
export function findSiteTemplates(dir: string = DEFAULT_ASSEMBLY_DIR): string[] {
  const found: string[] = [];
  const visit = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < 3 && e.name.startsWith('assembly-')) visit(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.template.json')) {
        try {
          if (hasMultiZoneDistribution(JSON.parse(fs.readFileSync(p, 'utf8')))) found.push(p);
        } catch {
          // Not JSON: not a template of ours.
        }
      }
    }
  };
  visit(dir, 0);
  return found;
}

/** Runs `npx cdk synth --quiet` in the working directory (the app of its cdk.json). */
export function synthesize(io: CliIO, output?: string): void {
  if (!fs.existsSync('cdk.json')) {
    throw new CliError('cannot synthesize: no cdk.json in this directory (run from your CDK app, or pass --template <file>)');
  }
  io.err(`multizone: running cdk synth${output ? ` -o ${output}` : ''} ...`);
  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', ...(output ? ['-o', output] : [])], {
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: process.platform === 'win32',
  });
  if (result.error) throw new CliError(`cdk synth could not start: ${result.error.message}`);
  if (result.status !== 0) throw new CliError(`cdk synth failed (exit ${result.status}); fix the app or pass --template <file>`);
}

/** Reads the site of a template file; throws one clear line when the file is missing, not JSON, or has no MultiZoneDistribution. */
export function readSite(file: string): SynthesizedSite {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`template ${file}: no such file`);
  }
  let template: unknown;
  try {
    template = JSON.parse(text);
  } catch (e) {
    throw new CliError(`template ${file}: not JSON (${(e as Error).message})`);
  }
  try {
    // The routing table's assets sit beside the template, in its cloud assembly.
    return SynthesizedSite.fromTemplate(template as Record<string, any>, { assetDirectory: path.dirname(file) });
  } catch (e) {
    if (e instanceof MultiZoneValidationError) throw new CliError(`template ${file}: ${e.message.replace(/^Template: /, '')}`);
    throw e;
  }
}

/**
 * The site a command works on: the named template, else the one template
 * of the assembly directory that holds a MultiZoneDistribution
 * (synthesizing the app first when there is none, or when asked to).
 */
export function loadSite(options: TemplateOptions, io: CliIO): LoadedSite {
  if (options.template) {
    if (options.synth) synthesize(io, options.output);
    return { site: readSite(options.template), file: options.template };
  }
  const dir = options.output ?? DEFAULT_ASSEMBLY_DIR;
  let found = options.synth ? [] : findSiteTemplates(dir);
  if (found.length === 0) {
    synthesize(io, options.output);
    found = findSiteTemplates(dir);
  }
  if (found.length === 0) {
    throw new CliError(`no MultiZoneDistribution found in ${dir}/*.template.json; pass --template <file>`);
  }
  if (found.length > 1) {
    throw new CliError(`${found.length} templates in ${dir} hold a MultiZoneDistribution (${found.join(', ')}); pick one with --template <file>`);
  }
  return { site: readSite(found[0]), file: found[0] };
}
