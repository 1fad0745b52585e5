/**
 * Finds a Hugging Face repo id (ORG/NAME) in the local hub cache, the layout written by
 * huggingface_hub: <cache>/models--ORG--NAME/{refs/<rev>, snapshots/<hash>/...}.
 * Nothing is downloaded: there is no network at run time.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CheckpointError } from "./errors";

export function isRepoId(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(s) && !fs.existsSync(s);
}

/** Candidate hub cache folders, in huggingface_hub's order of precedence. */
export function hubCacheDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  if (env.HF_HUB_CACHE) dirs.push(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) dirs.push(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) dirs.push(path.join(env.HF_HOME, "hub"));
  const xdg = env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
  dirs.push(path.join(xdg, "huggingface", "hub"));
  return [...new Set(dirs)];
}

/** The snapshot folder of repo at revision (a branch/tag name in refs/, or a commit hash). */
export function resolveRepoId(repo: string, revision = "main", env: NodeJS.ProcessEnv = process.env): string {
  const folder = "models--" + repo.split("/").join("--");
  const looked: string[] = [];
  for (const cache of hubCacheDirs(env)) {
    const root = path.join(cache, folder);
    looked.push(root);
    if (!fs.existsSync(root)) continue;
    const snapshots = path.join(root, "snapshots");
    const ref = path.join(root, "refs", revision);
    if (fs.existsSync(ref)) {
      const hash = fs.readFileSync(ref, "utf8").trim();
      const dir = path.join(snapshots, hash);
      if (fs.existsSync(dir)) return dir;
    }
    if (fs.existsSync(path.join(snapshots, revision))) return path.join(snapshots, revision);
    const all = fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : [];
    if (all.length === 1) return path.join(snapshots, all[0]);
  }
  throw new CheckpointError("not-found",
    `no local copy of '${repo}' (revision ${revision}). Looked in:\n  ${looked.join("\n  ")}\n` +
    `Download it on a machine with network access with \`hf download ${repo}\` ` +
    `(or \`huggingface-cli download ${repo}\`), then point HF_HOME or HF_HUB_CACHE at that cache, ` +
    "or pass the checkpoint folder's path.", { file: repo });
}
