#include "wire/asio/framed_connection.h"

#include "wire/asio/framed_connection_impl.h"

namespace trolley {

template class FramedConnection<asio::ip::tcp::socket>;

}  // namespace trolley
