#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "common/assert.h"

namespace trolley::test_support {

ChildProcess::ChildProcess(std::vector<std::string> args) {
  int out[2], in[2];
  TROLLEY_ASSERT(::pipe2(out, O_CLOEXEC) == 0);
  TROLLEY_ASSERT(::pipe2(in, O_CLOEXEC) == 0);
  std::string self = "/proc/self/exe";
  std::vector<char*> argv{self.data()};
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  TROLLEY_ASSERT(pid_ >= 0);
  if (pid_ == 0) {  // only async-signal-safe calls until exec
    if (::dup2(out[1], STDOUT_FILENO) < 0 || ::dup2(in[0], STDIN_FILENO) < 0) ::_exit(126);
    ::execv(self.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(in[0]);
  out_ = out[0];
  in_ = in[1];
}

ChildProcess::~ChildProcess() {
  CloseStdin();
  if (pid_ > 0) {
    Kill();
    Wait();
  }
  ::close(out_);
}

std::optional<std::string> ChildProcess::ReadLine(Clock::time_point deadline) {
  for (;;) {
    const size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (eof_) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1)));
    if (ready <= 0) continue;  // EINTR or timed out: the deadline check decides
    char chunk[4096];
    const ssize_t n = ::read(out_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;  // a partial last line stays in buf_, unreturned
      continue;
    }
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

std::optional<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  return ReadLine(Clock::now() + timeout);
}

void ChildProcess::CloseStdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

void ChildProcess::Kill() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  TROLLEY_ASSERT(pid_ > 0);
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    TROLLEY_ASSERT(r == 0 || errno == EINTR);
    if (Clock::now() > deadline) Kill();
    ::usleep(2000);
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int TakeReportFd() {
  const int fd = ::dup(STDOUT_FILENO);
  if (fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) ::_exit(80);
  return fd;
}

void WriteReportLine(int fd, const std::string& line) {
  const std::string out = line + "\n";
  size_t off = 0;
  while (off < out.size()) {
    const ssize_t n = ::write(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(90);
    off += static_cast<size_t>(n);
  }
}

}  // namespace trolley::test_support
