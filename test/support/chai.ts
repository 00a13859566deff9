import * as chai from 'chai'
import chaiAsPromised from 'chai-as-promised'

chai.use(chaiAsPromised)

/** chai's expect with chai-as-promised (`rejectedWith`, `eventually`) registered. */
export const expect = chai.expect
