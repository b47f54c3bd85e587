"""Validates otaplan export folders against the rollout systems' real interfaces, offline.

    python3 validate.py aws-iot-jobs DIR | hawkbit DIR | mender DIR

AWS: every body is checked by botocore's ParamValidator against CreateJob's input shape
in the IoT service model shipped with botocore (types, required members, minimums), then
against the constraints the same model states and botocore leaves to the server (max
lengths and values, patterns, enums). hawkBit and Mender: jsonschema against the schemas
beside this file. Prints one line per problem; exit 1 if any.
"""
import json, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def bodies(folder):
    calls = json.load(open(os.path.join(folder, "calls.json")))
    seen = []
    for c in calls:
        b = c.get("body")
        if b and b not in seen:
            seen.append(b)
            yield c, b, json.load(open(os.path.join(folder, b)))


def model_constraints(shape, value, path, errors):
    """What the service model states beyond ParamValidator's checks."""
    m = shape.metadata
    if shape.type_name == "structure":
        for k, v in value.items():
            if k in shape.members:
                model_constraints(shape.members[k], v, f"{path}.{k}", errors)
    elif shape.type_name == "list":
        if "max" in m and len(value) > m["max"]:
            errors.append(f"{path}: {len(value)} items, at most {m['max']}")
        for i, v in enumerate(value):
            model_constraints(shape.member, v, f"{path}[{i}]", errors)
    elif shape.type_name == "string":
        if "max" in m and len(value) > m["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {m['max']}")
        if "pattern" in m and not re.fullmatch(m["pattern"].replace("\\p{C}", "\\x00-\\x1f"), value):
            errors.append(f"{path}: {value!r} does not match {m['pattern']}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not one of {shape.enum}")
    elif shape.type_name in ("integer", "long", "double"):
        if "max" in m and value > m["max"]:
            errors.append(f"{path}: {value} above {m['max']}")


def aws(folder):
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("iot").operation_model("CreateJob").input_shape
    errors, n = [], 0
    for _, name, body in bodies(folder):
        n += 1
        report = ParamValidator().validate(body, shape)
        if report.has_errors():
            errors.append(f"{name}: {report.generate_report()}")
        found = []
        model_constraints(shape, body, "", found)
        errors += [f"{name}: {e}" for e in found]
        # AWS IoT Jobs limits the model does not state.
        if len(body.get("targets", [])) > 100:
            errors.append(f"{name}: {len(body['targets'])} targets, at most 100 per job")
        to = body.get("timeoutConfig", {}).get("inProgressTimeoutInMinutes")
        if to is not None and not 1 <= to <= 10080:
            errors.append(f"{name}: inProgressTimeoutInMinutes {to} outside 1-10080")
        rate = body.get("jobExecutionsRolloutConfig", {}).get("maximumPerMinute")
        if rate is not None and not 1 <= rate <= 1000:
            errors.append(f"{name}: maximumPerMinute {rate} outside 1-1000")
    return n, errors


def schema(folder, schema_file, skip=()):
    import jsonschema

    s = json.load(open(os.path.join(HERE, schema_file)))
    v = jsonschema.Draft202012Validator(s)
    errors, n = [], 0
    for _, name, body in bodies(folder):
        if name in skip:
            continue
        n += 1
        errors += [f"{name}: {'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(body)]
    return n, errors


if __name__ == "__main__":
    target, folder = sys.argv[1], sys.argv[2]
    if target == "aws-iot-jobs":
        n, errors = aws(folder)
    elif target == "hawkbit":
        n, errors = schema(folder, "hawkbit-assigned-targets.schema.json")
    elif target == "mender":
        n, errors = schema(folder, "mender-new-deployment.schema.json", skip=("abort.json",))
    else:
        sys.exit(f"unknown target {target}")
    for e in errors:
        print(e)
    print(f"{target}: {n} bodies checked, {len(errors)} problems")
    sys.exit(1 if errors or n == 0 else 0)
