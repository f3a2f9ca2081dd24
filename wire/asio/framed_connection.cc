#include "wire/asio/framed_connection.h"

#include "wire/asio/framed_connection_impl.h"

namespace trolley {

template class FramedConnection<asio::ip::tcp::socket>;
template class FramedConnection<TcpOrTlsStream>;

}  // namespace trolley
