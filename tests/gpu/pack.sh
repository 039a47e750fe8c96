#!/usr/bin/env bash
# Packs what tests/gpu/check.sh --bundle needs on a GPU machine without .NET: the check program
# (Release, framework-dependent, linux-x64 native libraries only) and this machine's .NET runtime.
#   tests/gpu/pack.sh [OUTDIR]     (default: .gpu, which git ignores)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/.gpu}
mkdir -p "$out"
dotnet build "$repo/tests/gpu/Tracelet.GpuCheck" -c Release -nologo -v quiet
bin="$repo/tests/gpu/Tracelet.GpuCheck/bin/Release/net10.0"
tar -C "$bin" -cJf "$out/gpucheck.tar.xz" --exclude='runtimes/win*' --exclude='runtimes/osx*' --exclude='runtimes/linux-arm*' \
  --exclude='runtimes/linux-musl*' --exclude='runtimes/browser*' --exclude='runtimes/maccatalyst*' --exclude='runtimes/ios*' \
  --exclude='runtimes/tvos*' --exclude='runtimes/android*' --exclude='runtimes/freebsd*' --exclude='runtimes/linux-x86' --exclude='runtimes/linux-s390x' \
  --exclude='runtimes/linux-ppc64le' --exclude='runtimes/linux-mips64' --exclude='runtimes/linux-riscv64' --exclude='runtimes/linux-loongarch64' --exclude='*.xml' .
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
version=$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App 10\./{v=$2} END{print v}')
[[ -f "$out/dotnet-runtime.tar.xz" && -f "$out/dotnet-runtime.version" && "$(cat "$out/dotnet-runtime.version")" == "$version" ]] || {
  tar -C "$root" -cf - dotnet host/fxr "shared/Microsoft.NETCore.App/$version" | xz -9 -T0 > "$out/dotnet-runtime.tar.xz"
  echo "$version" > "$out/dotnet-runtime.version"
}
ls -la "$out"
