"""Measurements that a steady closed-loop comparison cannot make: latency at fixed offered
rates (open_loop), memory per connection (memory), the cache's lone-request and stampede
paths (cache_paths), and HTTP clients as the workload (clients)."""
