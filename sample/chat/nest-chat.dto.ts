import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';

/** `{"event": "nest:join", "data": {"name": "..."}}` */
export class JoinDto {
  @IsString()
  @Matches(/^[\w .-]{1,24}$/, { message: 'name must be 1 to 24 letters, digits, spaces, dots or dashes' })
  name!: string;
}

/** `{"event": "nest:say", "data": {"text": "..."}}` */
export class SayDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  text!: string;
}
