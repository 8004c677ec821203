/**
 * CloudFormation's intrinsic functions, resolved against the local resources: `Ref`,
 * `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::If` with the template's
 * conditions, `Fn::FindInMap`, `Fn::Base64`, and the pseudo parameters.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { TemplateError } from '../../errors.ts';
import type { CfnTemplate, LocalEnv } from './model.ts';

/** What a resource resolves to: its `Ref` value and its `Fn::GetAtt` attributes. */
export interface PhysicalResource {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Stands in for a value the template does not give: a resource with no physical one yet. */
export type PhysicalLookup = (logicalId: string) => PhysicalResource | undefined;

/**
 * Resolves intrinsics in a template's values. Resources are looked up through `physical`, so
 * the caller can resolve in phases (queues before the functions whose environment names them).
 *
 * @example
 * const r = new IntrinsicResolver(template, env, 'MyStack', (id) => physical.get(id));
 * r.resolve({ 'Fn::GetAtt': ['Table', 'Arn'] }, 'MyFunction'); // 'arn:aws:dynamodb:...'
 */
export class IntrinsicResolver {
  private readonly mappings: Record<string, Record<string, Record<string, unknown>>>;

  constructor(
    private readonly template: CfnTemplate & { Mappings?: unknown },
    private readonly env: LocalEnv,
    private readonly stackName: string,
    private readonly physical: PhysicalLookup,
  ) {
    this.mappings = (template.Mappings ?? {}) as typeof this.mappings;
  }

  /** The value of a pseudo parameter or a template parameter's default. */
  private parameter(name: string, where: string): unknown {
    switch (name) {
      case 'AWS::AccountId':
        return this.env.accountId;
      case 'AWS::Region':
        return this.env.region;
      case 'AWS::Partition':
        return this.env.partition;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return `arn:${this.env.partition}:cloudformation:${this.env.region}:${this.env.accountId}:stack/${this.stackName}/local`;
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
    }
    const param = this.template.Parameters?.[name];
    if (param !== undefined) {
      if (param.Default === undefined) {
        throw new TemplateError(
          where,
          `parameter '${name}' has no default, and the template mode takes no parameter values`,
        );
      }
      // A list parameter's `Ref` is the list: its default is written comma-separated.
      const isList = /^List<|^CommaDelimitedList$|Value<List<|Value<CommaDelimitedList>/.test(
        param.Type ?? '',
      );
      return isList && typeof param.Default === 'string'
        ? param.Default.split(',').map((item) => item.trim())
        : param.Default;
    }
    return undefined;
  }

  private ref(name: string, where: string): unknown {
    const value = this.parameter(name, where);
    if (value !== undefined) return value;
    const found = this.physical(name);
    if (found === undefined) {
      throw new TemplateError(
        where,
        `Ref '${name}' names no resource or parameter the template mode knows`,
      );
    }
    return found.ref;
  }

  private getAtt(target: string, attribute: string, where: string): string {
    const found = this.physical(target);
    const value = found?.attributes[attribute];
    if (value === undefined) {
      throw new TemplateError(
        where,
        found === undefined
          ? `Fn::GetAtt names '${target}', which is not a resource the template mode creates`
          : `Fn::GetAtt ${target}.${attribute}: the template mode does not emulate that attribute`,
      );
    }
    return value;
  }

  /** True when the template's condition `name` holds. */
  condition(name: string, where: string): boolean {
    const body = this.template.Conditions?.[name];
    if (body === undefined) throw new TemplateError(where, `condition '${name}' is not defined`);
    return Boolean(this.resolve(body, where));
  }

  private sub(text: string, vars: Record<string, unknown>, where: string): string {
    return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (Object.hasOwn(vars, name)) return String(vars[name]);
      const dot = name.indexOf('.');
      if (dot > 0 && this.parameter(name, where) === undefined) {
        return this.getAtt(name.slice(0, dot), name.slice(dot + 1), where);
      }
      const value = this.ref(name, where);
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new TemplateError(where, `Fn::Sub: '${whole}' is not a string`);
      }
      return String(value);
    });
  }

  /**
   * `value` with every intrinsic resolved; `where` (a logical id) names the resource in errors.
   * Values of `Fn::If` that pick `AWS::NoValue` drop out of their object or list.
   */
  resolve(value: unknown, where: string): unknown {
    const out = this.walk(value, where);
    return out === NO_VALUE ? undefined : out;
  }

  private walk(value: unknown, where: string): unknown {
    if (Array.isArray(value)) {
      return value.map((v) => this.walk(v, where)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined) {
      const [key, arg] = first;
      if (key === 'Ref') return this.ref(String(arg), where);
      if (key === 'Condition' && typeof arg === 'string') return this.condition(arg, where);
      if (key.startsWith('Fn::')) return this.intrinsic(key, arg, where);
    }
    const obj: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const resolved = this.walk(v, where);
      if (resolved !== NO_VALUE) obj[k] = resolved;
    }
    return obj;
  }

  private intrinsic(fn: string, arg: unknown, where: string): unknown {
    const list = (n: number): unknown[] => {
      if (!Array.isArray(arg) || arg.length < n) {
        throw new TemplateError(where, `${fn} takes a list of ${n}`);
      }
      return arg;
    };
    switch (fn) {
      case 'Fn::GetAtt': {
        const [target, attribute] =
          typeof arg === 'string' ? splitOnce(arg, '.') : (list(2) as [unknown, unknown]);
        return this.getAtt(String(target), String(this.walk(attribute, where)), where);
      }
      case 'Fn::Join': {
        const [sep, parts] = list(2);
        const items = this.walk(parts, where);
        if (!Array.isArray(items))
          throw new TemplateError(where, 'Fn::Join takes a list of values');
        return items.map(String).join(String(sep));
      }
      case 'Fn::Sub': {
        if (typeof arg === 'string') return this.sub(arg, {}, where);
        const [text, vars] = list(2);
        return this.sub(String(text), this.walk(vars, where) as Record<string, unknown>, where);
      }
      case 'Fn::Select': {
        const [index, items] = list(2);
        const resolved = this.walk(items, where);
        const at = Number(this.walk(index, where));
        if (!Array.isArray(resolved) || !(at >= 0 && at < resolved.length)) {
          throw new TemplateError(where, `Fn::Select: index ${at} is out of range`);
        }
        return resolved[at];
      }
      case 'Fn::Split': {
        const [sep, text] = list(2);
        return String(this.walk(text, where)).split(String(sep));
      }
      case 'Fn::If': {
        const [name, yes, no] = list(3);
        return this.walk(this.condition(String(name), where) ? yes : no, where);
      }
      case 'Fn::Equals': {
        const [a, b] = list(2);
        return JSON.stringify(this.walk(a, where)) === JSON.stringify(this.walk(b, where));
      }
      case 'Fn::Not':
        return !this.walk(list(1)[0], where);
      case 'Fn::And':
        return list(1).every((c) => Boolean(this.walk(c, where)));
      case 'Fn::Or':
        return list(1).some((c) => Boolean(this.walk(c, where)));
      case 'Fn::Base64':
        return Buffer.from(String(this.walk(arg, where))).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((az) => `${this.env.region}${az}`);
      case 'Fn::FindInMap': {
        const [map, top, second] = list(3).map((v) => String(this.walk(v, where)));
        const value = this.mappings[map as string]?.[top as string]?.[second as string];
        if (value === undefined) {
          throw new TemplateError(
            where,
            `Fn::FindInMap: ${map}.${top}.${second} is not in the template's Mappings`,
          );
        }
        return value;
      }
      default:
        throw new TemplateError(where, `${fn} is not emulated (it names other stacks or services)`);
    }
  }
}

/** The marker `AWS::NoValue` resolves to, removed from the objects and lists holding it. */
const NO_VALUE = Symbol('AWS::NoValue');

function splitOnce(text: string, sep: string): [string, string] {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}
