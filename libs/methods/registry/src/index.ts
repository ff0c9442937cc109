export { BUILTIN_METHODS } from './builtin';
export { MethodCatalog, MethodCatalogError, METHOD_MODULES_ENV, methodCatalog } from './catalog';
