// The daemons' control socket (docs/protocol.md, "Control socket"): a Unix
// stream socket, mode 0660, owned by root and the `control-group` (none: root
// only), in a directory created 0750 if missing. Requests are served by a
// RequestServer on the daemon's main loop, one per connection, parsed by
// netlib/control_protocol.hpp; the daemon supplies what each verb does.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "netlib/control_protocol.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/expected.hpp"
#include "netlib/request_server.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

// Creates the listening socket at `path`. A socket file left by a daemon
// that died is replaced; one a live daemon answers on is an error (two
// daemons must not share a path). `group` empty: root only.
Expected<UniqueFd, std::string> open_control_socket(const std::string& path, const std::string& group);

class ControlSocket {
 public:
  using Handler = std::function<ControlReply(const ControlRequest&)>;

  // Throws std::system_error only for programming errors (as EventLoop::add).
  ControlSocket(EventLoop& loop, UniqueFd listener, std::string path, Handler handler);
  // Removes the socket file (best effort: after a switch to --user it may
  // no longer be ours to remove; the next start replaces it).
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  const std::string& path() const { return path_; }
  const RequestServer::Stats& stats() const { return server_->stats(); }
  size_t clients() const { return server_->clients(); }

  // One request line (newline stripped) to one reply, as the socket answers.
  static std::string answer(std::string_view request, const Handler& handler);

 private:
  std::string path_;
  Handler handler_;
  std::unique_ptr<RequestServer> server_;
};

}  // namespace dialout
