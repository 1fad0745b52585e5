/**
 * Which native backend runs a model: "cpu" (fast kernels), "reference" (plain kernels, for
 * checks), "cuda" (NVIDIA GPU; only in addons built with nvcc, only where a device
 * exists), or "auto" (cuda when a device exists, else cpu). Asking for cuda without a
 * device fails here, naming the reason cudaInfo() gives.
 */
import { BackendName, native } from "./native";

export type BackendChoice = BackendName | "auto";

/** Why there is no CUDA device, or undefined when there is one. */
export function cudaUnavailable(): string | undefined {
  const ci = native().cudaInfo();
  if (ci.devices > 0) return undefined;
  if (!ci.compiled) return "this addon was built without nvcc";
  return ci.error || "cudaGetDeviceCount found none";
}

/** The backends this process can run: cpu and reference always, cuda where a device exists. */
export function availableBackends(): BackendName[] {
  return cudaUnavailable() === undefined ? ["cpu", "reference", "cuda"] : ["cpu", "reference"];
}

export function resolveBackend(choice: BackendChoice = "cpu"): BackendName {
  switch (choice) {
    case "auto":
      return cudaUnavailable() === undefined ? "cuda" : "cpu";
    case "cuda": {
      const why = cudaUnavailable();
      if (why !== undefined) throw new Error(`no CUDA device (${why})`);
      return "cuda";
    }
    case "cpu":
    case "reference":
      return choice;
    default:
      throw new Error(`backend must be "cpu", "reference", "cuda" or "auto", got ${JSON.stringify(choice)}`);
  }
}
