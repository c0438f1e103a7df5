// Region resolution in Kong's order, done once per route at config load.

export interface RegionInput {
  readonly aws_region?: string | undefined;
  readonly host?: string | undefined;
  readonly function_name: string;
}

const LAMBDA_HOST = /^lambda(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;
const FUNCTION_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:function:/;

/** aws_region → AWS_REGION → AWS_DEFAULT_REGION → a standard Lambda host → a function ARN. */
export function resolveRegion(route: RegionInput, env: NodeJS.ProcessEnv): string | undefined {
  return (
    nonEmpty(route.aws_region) ??
    nonEmpty(env.AWS_REGION) ??
    nonEmpty(env.AWS_DEFAULT_REGION) ??
    (route.host === undefined ? undefined : LAMBDA_HOST.exec(route.host)?.[1]) ??
    FUNCTION_ARN.exec(route.function_name)?.[1]
  );
}

/** The region named in a full function ARN, if any. */
export function regionOfFunctionArn(functionName: string): string | undefined {
  return FUNCTION_ARN.exec(functionName)?.[1];
}

/** Lambda's public DNS suffix for a region: China regions differ. */
export function dnsSuffixOf(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
