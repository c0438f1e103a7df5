// The example function of docker-compose.yml, served by AWS's Lambda base
// image (public.ecr.aws/lambda/nodejs:22) and its Runtime Interface Emulator
// under the function name "function". Kong's aws-lambda docs use the same
// output, so `curl localhost:8000/lambda1` shows what Kong would.
export const handler = async () => ({ response: 'yes' });
