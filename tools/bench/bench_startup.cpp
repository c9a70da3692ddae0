// Process start-up: `kvmsim validate` and `kvmsim run` of a one-step scenario, against
// /bin/true, each a fork + exec + wait (posix_spawn) measured in real time.
#include <benchmark/benchmark.h>

#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

extern char** environ;

namespace {

bool spawn_and_wait(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);  // O_WRONLY
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return false;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void run_process(benchmark::State& state, const std::vector<std::string>& argv) {
    for (auto _ : state)
        if (!spawn_and_wait(argv)) {
            state.SkipWithError(("failed: " + argv[0]).c_str());
            break;
        }
}

void BM_Baseline_ProcessTrue(benchmark::State& state) { run_process(state, {"/bin/true"}); }
BENCHMARK(BM_Baseline_ProcessTrue)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Process_KvmsimValidate(benchmark::State& state) {
    run_process(state, {KVMSIM_BINARY, "validate", KVMSIM_BENCH_SCENARIO});
}
BENCHMARK(BM_Process_KvmsimValidate)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Process_KvmsimRun(benchmark::State& state) { run_process(state, {KVMSIM_BINARY, "run", KVMSIM_BENCH_SCENARIO}); }
BENCHMARK(BM_Process_KvmsimRun)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
