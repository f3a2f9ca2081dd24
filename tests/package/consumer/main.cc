// Uses an installed Trolley: the client library (a connection attempt to a
// port nobody listens on must fail cleanly with Unavailable) and, when the
// package has it, the cart library (apply, merge, encode, decode). Built
// twice by tests/package/package_test.sh: with find_package(Trolley) and
// with `pkg-config --cflags --libs trolley-client`. Exit status 0 = pass.
#include <chrono>
#include <cstdio>
#include <string>

#include "client/node_connection.h"
#include "common/status.h"

#if __has_include("cart/cart_state.h")
#include "cart/cart_state.h"
#define CONSUMER_HAS_CART 1
#else
#define CONSUMER_HAS_CART 0
#endif

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

void CheckClient() {
  using namespace std::chrono_literals;
  auto conn = trolley::NodeConnection::Connect("127.0.0.1:1", 200ms);
  Check(!conn.ok(), "connect to 127.0.0.1:1 fails");
  if (conn.ok()) return;
  std::printf("      status: %s\n", conn.status().ToString().c_str());
  Check(conn.status().code() == trolley::StatusCode::kUnavailable, "the status is Unavailable");
}

#if CONSUMER_HAS_CART
void CheckCart() {
  using trolley::CartSemantics;
  using trolley::CartState;
  using trolley::Mutation;
  const trolley::CartLimits limits;
  CartState phone(CartSemantics::kOrSet);
  CartState laptop(CartSemantics::kOrSet);
  Check(phone.Apply(Mutation::Add(1, "sku-1", 2, 1000), limits).ok(), "phone adds 2 x sku-1");
  Check(laptop.Apply(Mutation::Add(2, "sku-1", 1, 1001), limits).ok(), "laptop adds 1 x sku-1");
  const CartState siblings[] = {phone, laptop};
  CartState merged = CartState::Merge(CartSemantics::kOrSet, siblings);
  auto lines = merged.Lines(limits);
  Check(lines.size() == 1 && lines[0].sku == "sku-1" && lines[0].quantity == 3,
        "the merge has 3 x sku-1: " + merged.DebugString());
  auto decoded = CartState::Decode(merged.Encode(), CartSemantics::kOrSet);
  Check(decoded.ok() && *decoded == merged, "the merge encodes and decodes (Cap'n Proto)");
  auto wrong = CartState::Decode("not a cart", CartSemantics::kOrSet);
  Check(!wrong.ok(), "garbage does not decode: " + wrong.status().ToString());
}
#endif

}  // namespace

int main() {
  CheckClient();
#if CONSUMER_HAS_CART
  CheckCart();
#elif defined(CONSUMER_WANTS_CART)
  Check(false, "the package exports Trolley::cart but cart/cart_state.h is not installed");
#else
  std::printf("skip: this Trolley package has no cart library\n");
#endif
  std::printf("%s\n", failures == 0 ? "PASS" : "FAILED");
  return failures == 0 ? 0 : 1;
}
