// Prints the CUDA toolkit root for binding.gyp, or nothing when there is none usable
// (no nvcc, or no static runtime): the addon is then built CPU-only.
const fs = require("fs");
const path = require("path");
const { execSync } = require("child_process");

function usable(root) {
  return root && fs.existsSync(path.join(root, "bin", "nvcc")) &&
    fs.existsSync(path.join(root, "include", "cuda_runtime.h")) &&
    fs.existsSync(path.join(root, "lib64", "libcudart_static.a"));
}

function find() {
  if (process.env.NEMOTRON_LAB_NO_CUDA) return "";
  const candidates = [process.env.CUDA_HOME, process.env.CUDA_PATH, "/usr/local/cuda"];
  try {
    const nvcc = execSync("command -v nvcc", { stdio: ["ignore", "pipe", "ignore"], shell: "/bin/sh" }).toString().trim();
    if (nvcc) candidates.push(path.dirname(path.dirname(fs.realpathSync(nvcc))));
  } catch {}
  return candidates.find(usable) || "";
}

process.stdout.write(find());
