"""The GraphQL API as served: the root schema, the HTTP and WebSocket view, the request edge."""
