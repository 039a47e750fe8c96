#!/usr/bin/env bash
# GPU checks on a machine with a real NVIDIA GPU: the NVML binding's checks against the real
# driver (Tracelet.GpuCheck: layouts in use, memory invariants, process stride with a canary,
# field-value types, events, zero allocations, per-call latency, the gpu collector through the
# plugin runtime) and our sample beside `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`,
# field by field, as a table. Never run by CI (CI has no GPU).
#
#   tests/gpu/check.sh                 # needs the .NET 10 SDK: builds, then runs
#   tests/gpu/check.sh --bundle DIR    # a machine without .NET: DIR made by tests/gpu/pack.sh
#
# While it runs, a CUDA process (python3 + torch, when present) holds 1 GiB with RANK=3,
# LOCAL_RANK=0, SLURM_JOB_ID=4242 in its environment, so processes and job labels are checked too.
# Exit code: 0 every check passed, 1 a check failed, 2 no usable NVML.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bundle=""
if [[ "${1:-}" == "--bundle" ]]; then bundle=$(cd "$2" && pwd); shift 2; fi

if [[ -n "$bundle" ]]; then
  work=${TMPDIR:-/tmp}/tracelet-gpu-check
  rm -rf "$work" && mkdir -p "$work/dotnet" "$work/app"
  if command -v dotnet >/dev/null 2>&1; then dotnet=dotnet
  else
    tar -C "$work/dotnet" -xJf "$bundle/dotnet-runtime.tar.xz"
    dotnet="$work/dotnet/dotnet"
    export DOTNET_ROOT="$work/dotnet"
  fi
  tar -C "$work/app" -xJf "$bundle/gpucheck.tar.xz"
  app="$work/app/Tracelet.GpuCheck.dll"
else
  command -v dotnet >/dev/null 2>&1 || { echo "check.sh: no dotnet here; build a bundle with tests/gpu/pack.sh and pass --bundle DIR" >&2; exit 2; }
  dotnet build "$repo/tests/gpu/Tracelet.GpuCheck" -c Release -nologo -v quiet
  dotnet=dotnet
  app="$repo/tests/gpu/Tracelet.GpuCheck/bin/Release/net10.0/Tracelet.GpuCheck.dll"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "## machine"
nvidia-smi -L || true
nvidia-smi --query-gpu=driver_version,persistence_mode,mig.mode.current --format=csv || true
lib=$(ldconfig -p 2>/dev/null | awk '/libnvidia-ml.so.1 /{print $NF; exit}')
echo "libnvidia-ml.so.1: ${lib:-not in ldconfig}"
if [[ -n "$lib" ]] && command -v nm >/dev/null 2>&1; then
  echo "nvml exports: $(nm -D --defined-only "$lib" | grep -c ' nvml') (TemperatureV: $(nm -D --defined-only "$lib" | grep -c 'nvmlDeviceGetTemperatureV$'), ThrottleReasons: $(nm -D --defined-only "$lib" | grep -c 'nvmlDeviceGetCurrentClocksThrottleReasons$'))"
fi

holder=""
if command -v python3 >/dev/null 2>&1 && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  RANK=3 LOCAL_RANK=0 SLURM_JOB_ID=4242 python3 -c "
import torch, time, sys
x = torch.empty(256 * 1024 * 1024, dtype=torch.float32, device='cuda')
print('holder ready', flush=True)
time.sleep(300)" > "${TMPDIR:-/tmp}/tracelet-holder.log" 2>&1 &
  holder=$!
  for _ in $(seq 1 60); do grep -q "holder ready" "${TMPDIR:-/tmp}/tracelet-holder.log" 2>/dev/null && break; sleep 0.5; done
  export TRACELET_CHECK_PID=$holder
  echo "CUDA process $holder holds 1 GiB (RANK=3 LOCAL_RANK=0 SLURM_JOB_ID=4242)"
else
  echo "no python3 with CUDA torch: the process checks run without a known process"
fi
trap '[[ -n "$holder" ]] && kill "$holder" 2>/dev/null || true' EXIT

rc=0
"$dotnet" "$app" "$@" || rc=$?
exit $rc
