/**
 * The flow `medallion ingest` runs: the file branch of the bundled flow — what its
 * "Landing (files)" group wires to through the "Bronze", "Silver" and "Gold" groups, the
 * groups' comments, and their database — unchanged but for what
 * the command line sets (watching a folder or only loading a path, the rules, the
 * batch size). Folders and the database stay `${…}` references, filled from the
 * environment the CLI gives Node-RED. Pure: flow JSON in, flow JSON out.
 */
import { PROFILES } from '../validate/profiles';
import { Validator } from '../validate/validator';

export type FlowNode = { id: string; type: string; z?: string; g?: string; wires?: string[][] } & Record<
  string,
  unknown
>;

/** The groups of the bundled flow that make up its file branch. */
export const FILE_BRANCH_GROUPS = ['Landing (files)', 'Bronze', 'Silver', 'Gold'];

export interface HeadlessOptions {
  /** Watch a folder (a directory input) or only load the paths it is given (a file input). */
  watch: boolean;
  /** `auto`, a built-in profile, or `custom` with `rules`. */
  profile?: string;
  rules?: string;
  batchSize?: number;
}

export interface HeadlessFlow {
  flow: FlowNode[];
  /** watch-folder: receives input paths, sends batches and file outcomes. */
  watchFolder: string;
  /** The nodes watch-folder's outputs lead to: the bronze pg-write, and the file-outcome debug node. */
  bronze: string;
  outcomes: string;
  /** The debug nodes that show rows a database refused (pg-write's second outputs). */
  refused: string[];
}

export class FlowShapeError extends Error {}

export function headlessFlow(bundled: readonly FlowNode[], o: HeadlessOptions): HeadlessFlow {
  const groups = bundled.filter((n) => n.type === 'group' && FILE_BRANCH_GROUPS.includes(String(n.name)));
  if (groups.length !== FILE_BRANCH_GROUPS.length) {
    throw new FlowShapeError(`the flow has no groups named ${FILE_BRANCH_GROUPS.join(' and ')}`);
  }
  const inBranch = new Set(groups.map((g) => g.id));
  const inGroups = new Map(
    bundled.filter((n) => n.g !== undefined && inBranch.has(n.g)).map((n) => [n.id, n]),
  );
  // the groups hold other inputs' nodes too (the MQTT branch's bronze pg-write): keep what the files reach
  const landing = groups.find((g) => g.name === FILE_BRANCH_GROUPS[0])!.id;
  const reached = new Set([...inGroups.values()].filter((n) => n.g === landing).map((n) => n.id));
  for (const id of reached) {
    for (const next of inGroups.get(id)?.wires?.flat() ?? []) if (inGroups.has(next)) reached.add(next);
  }
  const members = [...inGroups.values()].filter((n) => reached.has(n.id) || n.type === 'comment');
  const configIds = new Set(
    members.map((n) => n.pgConfig).filter((id): id is string => typeof id === 'string'),
  );
  const tabIds = new Set(groups.map((g) => g.z));
  const keep = new Set([...inBranch, ...members.map((n) => n.id), ...configIds, ...tabIds]);
  const flow = bundled
    .filter((n) => keep.has(n.id))
    .map((n) => (n.wires ? { ...n, wires: n.wires.map((w) => w.filter((id) => keep.has(id))) } : { ...n }));

  const watchFolders = flow.filter((n) => n.type === 'medallion-watch-folder');
  const validates = flow.filter((n) => n.type === 'medallion-validate');
  if (watchFolders.length !== 1 || validates.length !== 1) {
    throw new FlowShapeError('the file branch needs exactly one watch-folder and one validate node');
  }
  const [wf] = watchFolders;
  wf.watch = o.watch;
  if (o.batchSize !== undefined) wf.batchSize = o.batchSize;
  if (o.profile !== undefined) {
    validates[0].profile = o.profile;
    validates[0].rules = o.rules ?? '';
  }
  const [bronze] = wf.wires?.[0] ?? [];
  const [outcomes] = wf.wires?.[1] ?? [];
  if (!bronze || !outcomes) {
    throw new FlowShapeError(
      'watch-folder must be wired to a pg-write (batches) and a node for file outcomes',
    );
  }
  const refused = flow
    .filter((n) => n.type === 'medallion-pg-write')
    .flatMap((n) => n.wires?.[1] ?? [])
    .filter((id, i, all) => all.indexOf(id) === i);
  return { flow, watchFolder: wf.id, bronze, outcomes, refused };
}

/** `--profile`: a built-in name or auto, or a JSON rule set (its text); checked as validate would at deploy. */
export function profileOption(
  profile: string,
  readJson: (path: string) => string,
): { profile: string; rules: string } {
  if (/\.json$/i.test(profile)) {
    const rules = readJson(profile);
    new Validator('custom', rules);
    return { profile: 'custom', rules };
  }
  if (profile !== 'auto' && !PROFILES[profile]) {
    throw new Error(
      `unknown profile "${profile}": use auto, ${Object.keys(PROFILES).join(', ')}, or the path of a JSON rule set`,
    );
  }
  return { profile, rules: '' };
}
