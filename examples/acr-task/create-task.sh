#!/usr/bin/env bash
# Creates the nightly ACR Task that runs regsweep inside the registry it cleans, with a
# system-assigned managed identity, and gives that identity the roles it needs.
#   ACR_NAME=myacr SUBSCRIPTION_ID=… CONTEXT=https://github.com/contoso/platform.git#main:registry-cleanup \
#   GIT_TOKEN=… ./create-task.sh
set -euo pipefail
: "${ACR_NAME:?set ACR_NAME}" "${SUBSCRIPTION_ID:?set SUBSCRIPTION_ID}" "${CONTEXT:?set CONTEXT (a git URL holding acr-task.yaml and regsweep.yaml)}"

# The image the task runs, from the registry itself (import once per version).
az acr import --name "$ACR_NAME" --source ghcr.io/regsweep/regsweep:0.1.0 --image regsweep:0.1.0

az acr task create \
  --registry "$ACR_NAME" \
  --name regsweep-cleanup \
  --context "$CONTEXT" \
  ${GIT_TOKEN:+--git-access-token "$GIT_TOKEN"} \
  --file acr-task.yaml \
  --schedule "0 1 * * *" \
  --commit-trigger-enabled false \
  --base-image-trigger-enabled false \
  --assign-identity

principal=$(az acr task show --registry "$ACR_NAME" --name regsweep-cleanup --query identity.principalId -o tsv)
registry_id=$(az acr show --name "$ACR_NAME" --query id -o tsv)

# Read and delete in the registry (AcrDelete is what deleting manifests needs; AcrPull for reading).
for role in AcrPull AcrDelete; do
  az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
    --role "$role" --scope "$registry_id"
done
# The usage sources of regsweep.yaml: read the subscription's App Service, Container Apps, ACI and
# AKS clusters, and fetch AKS user credentials (Kubernetes read access inside each cluster too).
for role in Reader "Azure Kubernetes Service Cluster User Role"; do
  az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
    --role "$role" --scope "/subscriptions/$SUBSCRIPTION_ID"
done

# The task pulls its regsweep image from this registry with the same identity.
az acr task credential add --registry "$ACR_NAME" --name regsweep-cleanup \
  --login-server "$ACR_NAME.azurecr.io" --use-identity "[system]"

# Try it now instead of waiting for 01:00 UTC:
#   az acr task run --registry "$ACR_NAME" --name regsweep-cleanup
