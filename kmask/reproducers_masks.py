"""Standalone reproducers of the mask-propagation family: a Functional graph written out in plain
Keras, called once eagerly, and at every tensor the mask Keras attaches against the recorded
rule (kmask/mask_rules.py), which the script applies, spelled out per node, to the masks and
values Keras gave that node's inputs. The script reports the first tensor where they differ,
as the property does (:mod:`kmask.report` holds the core)."""

from __future__ import annotations

from strategies import LayerSpec
from strategies.graphs import ATTENTIONS, MERGES, OPS, output_count

from . import report
from .compare import tolerance
from .keras_compat import GENERATION
from .mask_rules import rule_name

LAMBDA_SOURCE = {"double": "lambda x: x * 2.0", "negate": "lambda x: -x"}
"""The source of kmask.graph_build.LAMBDA_FUNCTIONS."""

OP_SOURCE = {
    "multiply": "{0} * 2.0",
    "add_self": "{0} + {0}",
    "negate": "-{0}",
    "tanh": "keras.ops.tanh({0})" if GENERATION == 3 else "tf.math.tanh({0})",
    "add": "{0} + {1}",
}
"""The source of kmask.graph_build.OP_FUNCTIONS, on the input tensors' names."""

_PRESENT_OR_ONES = "[m if m is not None else np.ones(v.shape[:2], bool) for m, v in zip(masks, values)]"

RULE_SOURCE = {
    "keep": "masks[0]",
    "query": "masks[0]",
    "none": "None",
    "unsupported": "None",
    "token_not_zero": "values[0] != 0",
    "concatenate_and": f"None if all(m is None for m in masks) else np.all(np.stack({_PRESENT_OR_ONES}), axis=0)",
    "concatenate_or": f"None if all(m is None for m in masks) else np.any(np.stack({_PRESENT_OR_ONES}), axis=0)",
    "and_of_present": "None if all(m is None for m in masks) else "
                      "np.all(np.stack([m for m in masks if m is not None]), axis=0)",
    "or_if_all_present": "None if any(m is None for m in masks) else np.any(np.stack(masks), axis=0)",
    "not_a_layer": "None",
}
"""The rules of kmask.mask_rules.RULE_FUNCTIONS whose source needs no layer option, as
expressions of the node's input ``masks`` and ``values``."""

RULE_WORDS = {
    "keep": "keeps its input's mask",
    "query": "takes the query's mask",
    "none": "reduces the time axis away: no mask",
    "unsupported": "does not support masking: no mask",
    "token_not_zero": "masks the zero tokens",
    "not_all_equal_mask_value": "masks the steps whose every feature equals mask_value",
    "concatenate_and": "ANDs the masks (all True for an input without one)",
    "concatenate_or": "ORs the masks (all True for an input without one)",
    "and_of_present": "ANDs the masks present",
    "or_if_all_present": "ORs the masks if every input has one, else no mask",
    "not_a_layer": "is an operation, not a layer: no mask",
}


def rule_source(layer: LayerSpec) -> list[str]:
    """The expected mask of each output of ``layer`` as source, under the installed generation."""
    name = rule_name(layer, GENERATION)
    count = output_count(layer)
    if name == "not_all_equal_mask_value":
        return [f"np.any(values[0] != np.float32({layer.option('mask_value', 0.0)!r}), axis=-1)"]
    if name == "mask_function_or_none":
        return ["masks[0]" if layer.option("mask") == "keep" else "None"]
    if name == "keep_if_sequences":  # states have no time axis; Bidirectional's two halves keep it
        rnn = layer.recurrent
        if not rnn.option("return_sequences", False):
            return ["None"] * count
        return ["masks[0]"] * count if layer.kind == "Bidirectional" else ["masks[0]"] + ["None"] * (count - 1)
    return [RULE_SOURCE[name]] * count


def rule_words(layer: LayerSpec) -> str:
    name = rule_name(layer, GENERATION)
    if name == "keep_if_sequences":
        return "keeps the mask on sequence outputs only"
    if name == "mask_function_or_none":
        return "keeps the mask (mask=)" if layer.option("mask") == "keep" else "has no mask function: no mask"
    return RULE_WORDS[name]


def layer_source(layer: LayerSpec) -> str:
    if layer.kind == "Lambda":
        keep = ", mask=lambda inputs, mask=None: mask" if layer.option("mask") == "keep" else ""
        return f"layers.Lambda({LAMBDA_SOURCE[layer.option('function')]}{keep})"
    return layer.source()


def call_source(layer: LayerSpec, target: str, inputs: list[str]) -> str:
    """``target`` called on ``inputs`` the way kmask.graph_build.call_layer calls that kind."""
    options = "".join(f", {k}={v!r}" for k, v in layer.call_options.items())
    if layer.kind == "MultiHeadAttention":
        return f"{target}({inputs[0]}, {inputs[1]}{options})"
    if layer.kind in ATTENTIONS or layer.kind in MERGES:
        return f"{target}([{', '.join(inputs)}]{options})"
    return f"{target}({inputs[0]}{options})"


def graph_source(spec, timesteps: int) -> str:
    """``make_model()``: the Functional model of ``spec`` returning t0 and every node output."""
    main_shape = f"({timesteps},)" if spec.style == "embedding" else f"({timesteps}, {spec.features})"
    main_dtype = "int32" if spec.style == "embedding" else "float32"
    reads_raw = any(1 in node.inputs for node in spec.nodes)
    lines = [
        "def make_model():",
        f"    main = keras.Input(shape={main_shape}, dtype={main_dtype!r})",
        f"    raw = keras.Input(shape=({timesteps}, {spec.features}), dtype='float32')  # an unmasked input",
        f"    built = [{spec.input_layer.source()}]",
        "    t = [built[0](main), raw]",
    ]
    position = 2
    for node in spec.nodes:
        count = output_count(node.layer)
        outputs = [f"t{position + k}" for k in range(count)]
        if node.layer.kind in OPS:  # no layer: the operation applied to the tensors themselves
            function = node.layer.option("function", "add")
            lines.append(f"    t += [{OP_SOURCE[function].format(*(f't[{i}]' for i in node.inputs))}]  # {outputs[0]}")
            position += 1
            continue
        lines.append(f"    built.append({layer_source(node.layer)})")
        call = call_source(node.layer, "built[-1]", [f"t[{i}]" for i in node.inputs])
        lines.append(f"    t += {'list(' + call + ')' if count > 1 else '[' + call + ']'}  # {', '.join(outputs)}")
        position += count
    lines += [
        f"    model = keras.Model({'[main, raw]' if reads_raw else 'main'}, [t[0]] + t[2:])",
        *report.set_weights_lines(spec.weight_seed, "built"),
        f"    return model, {reads_raw}",
    ]
    return "\n".join(lines)


def rules_source(spec) -> str:
    """``RULES``: per tensor, its producer's inputs and the rule's expected mask as a function."""
    lines = ["RULES = [  # (tensor, what it is, input tensors, expected mask from the inputs' masks and values)",
             f"    (0, {str(spec.input_layer) + ' (t0): ' + rule_words(spec.input_layer)!r}, [-1],",
             f"     lambda masks, values: {rule_source(spec.input_layer)[0]}),"]
    position = 2
    for node in spec.nodes:
        for k, expression in enumerate(rule_source(node.layer)):
            what = f"{node} -> t{position}: {node.layer.kind} {rule_words(node.layer)}"
            lines.append(f"    ({position}, {what!r}, {list(node.inputs)!r},")
            lines.append(f"     lambda masks, values: {expression}),")
            position += 1
    lines.append("]")
    lines.append(f"POOLED = {pooled_tensors(spec)!r}  # (GlobalAveragePooling1D output, its input)")
    return "\n".join(lines)


def pooled_tensors(spec) -> list[tuple[int, int]]:
    """``(output tensor, input tensor)`` of every GlobalAveragePooling1D node of the graph ``spec``."""
    found, position = [], 2
    for node in spec.nodes:
        if node.layer.kind == "GlobalAveragePooling1D":
            found.append((position, node.inputs[0]))
        position += output_count(node.layer)
    return found


_GRAPH_SIDES = '''
def both_sides():
    """At each tensor in order, the attached mask (actual) and the rule applied to what Keras gave
    its inputs (expected); then each GlobalAveragePooling1D output against the NumPy mean of its
    input over the steps the rule's mask calls real; the first that differ, else the last mask."""
    model, reads_raw = make_model()
    outputs = model([X, RAW] if reads_raw else X, training=False)
    tensors = [outputs[0], RAW] + list(outputs[1:])
    values = {-1: X, **{i: to_numpy(t) for i, t in enumerate(tensors)}}
    masks = {-1: None, **{i: attached_mask(t) for i, t in enumerate(tensors)}}
    rule_masks = {1: None}  # t1, the unmasked input
    for position, what, inputs, rule in RULES:
        expected = rule([masks[i] for i in inputs], [values[i] for i in inputs])
        rule_masks[position], actual = expected, masks[position]
        if difference(expected, actual)[0]:
            print(f"mask of t{position} = {what}")
            return expected, actual
    for position, source in POOLED:  # rows with no real step: see the pooling-empty-row-nan record
        x = values[source].astype(np.float64)
        real = np.ones(x.shape[:2], bool) if rule_masks[source] is None else rule_masks[source]
        rows = real.any(axis=1)
        weights = real[rows][:, :, None]
        pooled = (x[rows] * weights).sum(axis=1) / weights.sum(axis=1)
        if difference(pooled, values[position][rows])[0]:
            print(f"value of t{position} = GlobalAveragePooling1D(t{source}): the mean over the steps "
                  f"its rule mask calls real ({'every step: no mask' if rule_masks[source] is None else 'masked'})")
            return pooled, values[position][rows]
    print(f"mask of t{position} = {what}")
    return expected, actual


def attached_mask(tensor):
    mask = getattr(tensor, "_keras_mask", None)
    return None if mask is None else to_numpy(mask).astype(bool)
'''


def graph_reproducer(spec, batch, raw) -> report.Reproducer:
    """The script of :func:`kmask.mask_checks.check_graph_masks` on ``spec`` and its inputs."""
    title = f"Keras attaches a mask that breaks the masking rules in a Functional graph: {spec}"
    expected = ("at every tensor of the Functional graph, the mask Keras attaches to the eager output is "
                f"the one the Keras {GENERATION} rule gives for its layer and its inputs' masks, and every "
                "GlobalAveragePooling1D averages its input over the steps that rule calls real")
    body = "\n\n\n".join([
        "layers = keras.layers",
        graph_source(spec, batch.timesteps),
        f"X = {report.literal(batch.values)}\nRAW = {report.literal(raw)}",
        rules_source(spec),
        _GRAPH_SIDES.strip(),
    ])
    source = report.script_source(
        title, expected, tolerance(1, batch.timesteps), body,
        "masks are compared exactly; a pooled value is a float32 mean of at most as many terms as steps",
    )
    return report.Reproducer(title, expected, source)


_CHAIN_SIDES = '''
def both_sides():
    """Each layer's symbolic output has a mask where the rule gives one, and the eager output
    carries the rule's mask; the first layer where they differ (the output's mask last)."""
    model, built = make_model()
    masks = [None]
    for layer, (what, rule) in zip(built, RULES):
        masks.append(rule([masks[-1]], [X]))
        has_mask = getattr(layer.output, "_keras_mask", None) is not None
        if has_mask != (masks[-1] is not None):
            print(f"symbolic output of {what}: {'has' if has_mask else 'has no'} mask")
            return masks[-1] is not None, has_mask
    mask = getattr(model(X, training=False), "_keras_mask", None)
    print(f"mask of the eager output, after {RULES[-1][0]}")
    return masks[-1], None if mask is None else to_numpy(mask).astype(bool)
'''


def _chain_rule_lines(chain, expected_masks) -> list[str]:
    """The script's RULES list for a chain: each layer with its mask rule as a lambda."""
    rules = ["RULES = [  # (layer, its mask from the previous layer's mask, or from X for the first)"]
    for k, (layer, mask) in enumerate(zip(chain, expected_masks)):
        expression = rule_source(layer)[0]
        if k and "values" in expression:  # a Masking layer mid-chain reads the previous layer's values
            expression = report.literal(mask)
        rules += [f"    ({f'{layer} ({rule_words(layer)})'!r},", f"     lambda masks, values: {expression}),"]
    rules.append("]")
    return rules


def chain_input(spec, batch) -> tuple[list, str, str]:
    """The chain's layers (the mask-making input layer first), and its input's shape and dtype
    as source."""
    chain = [spec.input_layer] + [node.layer for node in spec.nodes]
    shape = f"({batch.timesteps},)" if spec.style == "embedding" else f"({batch.timesteps}, {spec.features})"
    return chain, shape, "int32" if spec.style == "embedding" else "float32"


def chain_reproducer(spec, batch, expected_masks) -> report.Reproducer:
    """The script of the Sequential mask property: ``expected_masks`` (the rules' masks of every
    layer, input layer first) stand in, as literals, for a mid-chain Masking layer's rule."""
    title = f"A Sequential model attaches a mask that breaks the masking rules: {spec}"
    expected = (f"in a Sequential model, every layer's symbolic output has a mask exactly where the Keras "
                f"{GENERATION} rule gives one, and the eager output carries the rule's mask")
    chain, shape, dtype = chain_input(spec, batch)
    model = "\n".join([
        "def make_model():",
        f"    built = [{', '.join(layer_source(layer) for layer in chain)}]",
        f"    model = keras.Sequential([keras.Input(shape={shape}, dtype={dtype!r})] + built)",
        *report.set_weights_lines(spec.weight_seed, "built"),
        "    return model, built",
    ])
    rules = _chain_rule_lines(chain, expected_masks)
    body = "\n\n\n".join(["layers = keras.layers", model, f"X = {report.literal(batch.values)}",
                          "\n".join(rules), _CHAIN_SIDES.strip()])
    source = report.script_source(
        title, expected, tolerance(1, batch.timesteps), body,
        "masks are compared exactly; a pooled value is a float32 mean of at most as many terms as steps",
    )
    return report.Reproducer(title, expected, source)


CHAIN_BUILDER_SOURCE = {
    "functional": """    inputs = x = keras.Input(shape=SHAPE, dtype=DTYPE)
    for layer in built:
        x = layer(x)
    model = keras.Model(inputs, x)""",
    "sequential": """    model = keras.Sequential([keras.Input(shape=SHAPE, dtype=DTYPE)] + built)""",
    "nested": """    inputs = keras.Input(shape=SHAPE, dtype=DTYPE)
    x = built[0](inputs)  # the mask-making layer outside, the others in a nested Sequential
    inner = keras.Sequential([keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype)] + built[1:])
    model = keras.Model(inputs, inner(x))""",
    "subclassed_by_hand": """    model = ChainModel(built, by_hand=True)
    model(np.ones((1,) + SHAPE, dtype=DTYPE))  # create the weights""",
    "subclassed_relying": """    model = ChainModel(built, by_hand=False)
    model(np.ones((1,) + SHAPE, dtype=DTYPE))  # create the weights""",
}

_CHAIN_MODEL = '''
class ChainModel(keras.Model):
    """Calls the layers in order; by_hand passes each layer that takes mask= the mask the
    previous layer's compute_mask returns, as the masking guide says; otherwise Keras must."""

    def __init__(self, chain, by_hand):
        super().__init__()
        self.chain, self.by_hand = chain, by_hand

    def call(self, inputs):
        x, mask = inputs, None
        for layer in self.chain:
            if self.by_hand:
                takes_mask = mask is not None and "mask" in inspect.signature(layer.call).parameters
                output = layer(x, mask=mask) if takes_mask else layer(x)
                mask = layer.compute_mask(x, mask) if layer.supports_masking else None
                x = output
            else:
                x = layer(x)
        return x
'''

_API_SIDES = '''
def both_sides():
    """The output against the Functional model's; where they agree, the eager output's mask
    against the rules chained from X."""
    reference = to_numpy(make_model("functional")(X, training=False))
    out = make_model(API)(X, training=False)
    if difference(reference, to_numpy(out))[0]:
        print(f"{API} output vs the Functional model's")
        return reference, to_numpy(out)
    mask = None
    for what, rule in RULES:
        mask = rule([mask], [X])
    attached = getattr(out, "_keras_mask", None)
    print(f"mask of the {API} model's eager output (the rules: {'; '.join(what for what, _ in RULES)})")
    return mask, None if attached is None else to_numpy(attached).astype(bool)
'''


def api_reproducer(spec, batch, api: str, expected_masks, tol: float) -> report.Reproducer:
    """The script of the API-equivalence property for ``api`` (see :func:`chain_reproducer` for
    ``expected_masks``)."""
    title = f"A {api} model gives other outputs or another mask than the Functional model of the same layers: {spec}"
    expected = (f"the chain built as a {api} model gives the outputs of the same layers and weights built as a "
                "Functional model, and its eager output carries the mask the rules say")
    chain, shape, dtype = chain_input(spec, batch)
    builders = {name: CHAIN_BUILDER_SOURCE[name] for name in ("functional", api)}
    lines = ["def make_model(api):",
             f"    built = [{', '.join(layer_source(layer) for layer in chain)}]"]
    for k, (name, source) in enumerate(builders.items()):
        lines.append(f"    {'if' if k == 0 else 'else:  #'} {'api == ' + repr(name) + ':' if k == 0 else repr(name)}")
        lines += ["    " + line for line in source.splitlines()]
    lines += [*report.set_weights_lines(spec.weight_seed, "built"), "    return model"]
    rules = _chain_rule_lines(chain, expected_masks)
    parts = ["layers = keras.layers", f"API = {api!r}\nSHAPE = {shape}\nDTYPE = {dtype!r}"]
    if api.startswith("subclassed"):
        parts.append(_CHAIN_MODEL.strip())
    parts += ["\n".join(lines), f"X = {report.literal(batch.values)}", "\n".join(rules), _API_SIDES.strip()]
    source = report.script_source(title, expected, tol, "\n\n\n".join(parts),
                                  "float32 reordering tolerance (kmask/compare.py); masks compare exactly")
    return report.Reproducer(title, expected, source)


_UNSUPPORTED_SIDES = '''
def both_sides():
    """No exception; then no mask on the output (expected None); then the output against the
    last layer run on the same values without a mask."""
    built = LAYERS()
    inputs = x = keras.Input(shape=SHAPE, dtype=DTYPE)
    for layer in built:
        x = layer(x)
    model = keras.Model(inputs, x)
    set_weights(built)
    try:
        out = model(X, training=False)
    except TypeError as error:  # the documented claim: "an exception will be raised"
        print(f"raised {error!r}")
        return "no exception", "TypeError"
    attached = getattr(out, "_keras_mask", None)
    if attached is None:
        attached = getattr(model.outputs[0], "_keras_mask", None)
    if attached is not None:
        print(f"{built[-1].name}, which does not support masking, passed a mask on")
        return None, "a mask"
    x = X
    for layer in built[:-1]:
        x = layer(x, training=False)
    return to_numpy(built[-1](tensor(to_numpy(x)))), to_numpy(out)
'''


def unsupported_reproducer(spec, batch, tol: float) -> report.Reproducer:
    """The script of the unsupported-layer claim on the chain ``spec``."""
    title = f"A layer without mask support, given a mask, does not simply drop it: {spec}"
    expected = ("a layer that does not support masking, receiving a mask, raises nothing, attaches no mask "
                "and gives what it gives on the same values without a mask")
    chain, shape, dtype = chain_input(spec, batch)
    body = "\n\n\n".join([
        "layers = keras.layers",
        f"SHAPE = {shape}\nDTYPE = {dtype!r}",
        f"def LAYERS():\n    return [{', '.join(layer_source(layer) for layer in chain)}]",
        "\n".join(["def set_weights(built):", *report.set_weights_lines(spec.weight_seed, "built")]),
        f"X = {report.literal(batch.values)}",
        _UNSUPPORTED_SIDES.strip(),
    ])
    source = report.script_source(title, expected, tol, body, "float32 reordering tolerance (kmask/compare.py)")
    return report.Reproducer(title, expected, source)


_GRAPH_LOSS_SIDES = '''
def both_sides():
    """The mean squared error over the steps RULE_MASK calls real (every step where it is None),
    computed here from the model's own predictions (expected), and what evaluate() reports (actual)."""
    model, reads_raw = make_model()
    head = keras.Model(model.inputs if reads_raw else model.inputs[0], model.outputs[OUTPUT - 1])  # t0, t2, t3, ...
    head.compile(loss="mean_squared_error")
    inputs = [X, RAW] if reads_raw else X
    reported = head.evaluate(inputs, TARGETS, batch_size=len(X), verbose=0)
    predictions = to_numpy(head(inputs, training=False)).astype(np.float64)
    per_step = ((predictions - TARGETS) ** 2).mean(axis=-1)
    real = np.ones(per_step.shape, bool) if RULE_MASK is None else RULE_MASK
    return float((per_step * real).sum() / real.sum()), float(reported)
'''


def graph_loss_reproducer(case, mask, tol: float) -> report.Reproducer:
    """The script of :func:`kmask.graph_loss.check_graph_loss`: the graph cut at its output tensor,
    compiled with mean squared error, ``evaluate`` against the masked mean under ``mask``."""
    spec, output = case.spec, case.output
    title = f"The compiled loss of a Functional graph's output t{output} does not follow its mask: {spec}"
    counted = "every step (no mask reaches it)" if mask is None else "the steps its mask calls real"
    expected = (f"evaluate() reports the mean squared error of t{output} over {counted}: the mask the Keras "
                f"{GENERATION} rules give t{output} (kmask/mask_rules.py)")
    body = "\n\n\n".join([
        "layers = keras.layers",
        graph_source(spec, case.values.shape[1]),
        f"X = {report.literal(case.values)}\nRAW = {report.literal(case.raw)}\n"
        f"TARGETS = {report.literal(case.targets)}\nOUTPUT = {output}\n"
        f"RULE_MASK = {report.literal(mask)}  # what the rules give t{output}; None: every step counts",
        _GRAPH_LOSS_SIDES.strip(),
    ])
    source = report.script_source(title, expected, tol, body, "a float32 loss of a model this deep")
    return report.Reproducer(title, expected, source)
