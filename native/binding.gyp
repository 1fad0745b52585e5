# The nemotron-lab native addon. CPU kernels are always built as portable C++
# (SIMD variants are chosen at run time through target_clones, never -march=native).
# CUDA kernels are compiled only where a CUDA toolkit exists (find-cuda.js), and linked against the static
# CUDA runtime, which opens the driver lazily: the addon still loads on machines
# with no GPU and no CUDA toolkit.
{
  "variables": {
    "cuda_root%": "<!(node find-cuda.js)",
  },
  "targets": [
    {
      "target_name": "nemotron_lab",
      "sources": [
        "src/addon.cc",
        "<!@(ls -1 src/napi/*.cc)",
        "src/mapped_file.cc",
        "src/thread_pool.cc",
        "<!@(ls -1 src/cpu/*.cc)",
        "<!@(ls -1 src/model/*.cc)",
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-ffp-contract=off", "-Wall", "-Wno-unused-function", "-Wno-psabi"],
      "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-O3"]},
      "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"]}},
      "conditions": [
        ["OS=='linux'", {"libraries": ["-lpthread"]}],
        ["cuda_root!=''", {
          "defines": ["NL_WITH_CUDA=1"],
          "sources": ["<!@(ls -1 src/cuda/*.cu)"],
          "include_dirs": ["<(cuda_root)/include"],
          "libraries": ["<(cuda_root)/lib64/libcudart_static.a", "-ldl", "-lrt"],
          "rules": [{
            "rule_name": "nvcc",
            "extension": "cu",
            "inputs": ["<(RULE_INPUT_PATH)"],
            "outputs": ["<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o"],
            # sm_80 (A100) and sm_90a (H100/H200) machine code, compute_90 PTX for newer GPUs;
            # nvcc.js keeps ptxas's register report beside each object (spills are tested).
            "action": ["node", "nvcc.js", "<(cuda_root)/bin/nvcc", "-c", "-O3", "-std=c++17", "-Xcompiler", "-fPIC",
                       "-gencode", "arch=compute_80,code=sm_80",
                       "-gencode", "arch=compute_90a,code=sm_90a",
                       "-gencode", "arch=compute_90,code=compute_90",
                       "-Isrc", "<@(_inputs)", "-o", "<@(_outputs)"],
            "message": "nvcc <(RULE_INPUT_PATH)",
            "process_outputs_as_sources": 1
          }]
        }]
      ]
    }
  ]
}
