// ChildProcess: this test binary re-executed (/proc/self/exe) with other
// arguments, for what a test cannot do in its own process: be SIGKILLed
// mid-write, hold a resource from another process, or run under a limit
// (setrlimit) the parent must not take on. The binary's main() dispatches
// on the arguments to the child's role before it starts GoogleTest.
//
// The child's stdout is a pipe the parent reads line by line, and its
// stdin a pipe the parent can close to tell it to finish; stderr is
// shared. The destructor SIGKILLs and reaps a child still running, so a
// failed ASSERT_* in the parent never leaves one behind.
//
// In the child, TakeReportFd() and WriteReportLine() keep that channel for
// report lines only.
//
// Not thread-safe: one thread drives a ChildProcess. Between fork and exec
// the child makes only async-signal-safe calls, so the parent may run other
// threads (an engine's writer thread) meanwhile.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace trolley::test_support {

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts /proc/self/exe with `args` (argv[1] on); asserts that fork works.
  explicit ChildProcess(std::vector<std::string> args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next complete line the child wrote (without its '\n'); nullopt at
  // the end of its stdout or once `deadline` has passed. A last line cut
  // short (the child was killed inside the write) is dropped.
  std::optional<std::string> ReadLine(Clock::time_point deadline);
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // True once ReadLine has seen the end of the child's stdout.
  bool eof() const { return eof_; }

  // Closes the child's stdin, so its reads return end of file. Idempotent.
  void CloseStdin();
  // Sends SIGKILL (if not yet reaped); Wait() still reaps it.
  void Kill();
  // Reaps the child, SIGKILLing it if it has not ended within `timeout`:
  // its exit code, or minus the number of the signal that ended it.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  pid_t pid_ = -1;
  int out_ = -1;  // the child's stdout, read end
  int in_ = -1;   // the child's stdin, write end
  std::string buf_;
  bool eof_ = false;
};

// ---- In the child

// The report channel: a new descriptor for the pipe that is stdout, with
// stdout itself pointed at stderr, so library logging (spdlog's default sink
// is stdout) cannot mix into the reports. _exit(80) if that fails.
int TakeReportFd();

// Writes `line` and '\n' to `fd`. A line shorter than PIPE_BUF is written
// atomically, so the parent sees all of it or (killed inside the call) none.
// _exit(90) if the write fails.
void WriteReportLine(int fd, const std::string& line);

}  // namespace trolley::test_support
