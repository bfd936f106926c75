"""An interrupted training run, for the resume tests: ``fit(..., callback=stop_after(k))`` raises
``Interrupted`` once step ``k`` is done (after its checkpoint, if one falls on that step)."""


class Interrupted(Exception):
    pass


def stop_after(step: int):
    def callback(done, method, history):
        if done == step:
            raise Interrupted
    return callback
