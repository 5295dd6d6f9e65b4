"""The running process: composes the edges, the service and the store; workers."""
