# Events kept while the broker is unreachable, delivered later in order (pure).
#
# A ring of pre-allocated slots: payloads are encoded at event time, so each one already
# carries its own ts and seq and a late delivery still says when it happened. When full, the
# oldest event makes room and `dropped` counts it (reported in diag). put/pop allocate
# nothing beyond the payload the caller made.


class Outbox:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("outbox capacity must be at least 1, got %r" % (capacity,))
        self.capacity = capacity
        self.topics = [None] * capacity
        self.payloads = [None] * capacity
        self.head = 0  # slot of the oldest event
        self.count = 0
        self.dropped = 0

    def __len__(self):
        return self.count

    def put(self, topic, payload):
        if self.count == self.capacity:
            self.head = (self.head + 1) % self.capacity
            self.count -= 1
            self.dropped += 1
        i = (self.head + self.count) % self.capacity
        self.topics[i] = topic
        self.payloads[i] = payload
        self.count += 1

    def peek(self):
        """(topic, payload) of the oldest event, or None. It stays queued until pop(), so an
        event is only forgotten once its publish has gone out."""
        if self.count == 0:
            return None
        return self.topics[self.head], self.payloads[self.head]

    def pop(self):
        """Forget the oldest event (after it was published)."""
        if self.count == 0:
            return
        self.topics[self.head] = None  # let the payload be collected
        self.payloads[self.head] = None
        self.head = (self.head + 1) % self.capacity
        self.count -= 1

    def clear(self):
        while self.count:
            self.pop()
